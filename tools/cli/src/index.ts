export { resolveTarget } from './generate.js';
export { findLocalEnv, readLocalEnv, writeLocalEnv } from './local-env.js';
export type { LocalEnv } from './local-env.js';
export { startStack, firstServedRequest, SERVICES, REPO_ROOT } from './stack.js';
export { privateStackEnv } from './private-stack.js';
export type { PrivateStackEnv } from './private-stack.js';
export type { Stack, ServiceName } from './stack.js';
export { replayExport } from './replay.js';
export type { ReplayDeps, ReplayOptions, ReplayResult } from './replay.js';

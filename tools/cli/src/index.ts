export { resolveTarget } from './generate.js';
export { findLocalEnv, readLocalEnv, writeLocalEnv } from './local-env.js';
export type { LocalEnv } from './local-env.js';

export { createPolicy } from './service.js';
export type { Policy, PolicyDeps } from './service.js';
export { checkText } from './check.js';
export { DEFAULT_POLICY } from './policy-set.js';
export type { PolicySet, RuleAction } from './policy-set.js';

export { createPolicy } from './service.js';
export type { Policy, PolicyDeps } from './service.js';
export { createPolicyMetrics } from './policy-metrics.js';
export type { PolicyMetrics } from './policy-metrics.js';

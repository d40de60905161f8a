export { createBatcher, DEFAULT_RULES } from './service.js';
export type { Batcher, BatcherDeps } from './service.js';
export { formBatch, byUrgency } from './batch-forming.js';
export type { FormingRules, Queued, Capacity } from './batch-forming.js';

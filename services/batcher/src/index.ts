export { createBatcher, DEFAULT_RULES } from './service.js';
export type { Batcher, BatcherDeps } from './service.js';
export { formBatch, byUrgency } from './domain/batch-forming.js';
export type { FormingRules, Queued, Capacity } from './domain/batch-forming.js';

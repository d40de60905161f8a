export { createBatcher, DEFAULT_RULES } from './service.js';
export type { Batcher, BatcherDeps } from './service.js';
export { formBatch, byUrgency, fairOrder } from './domain/batch-forming.js';
export { createTenantTurns } from './domain/tenant-turns.js';
export type { TenantTurns } from './domain/tenant-turns.js';
export type { FormingRules, Queued, Capacity } from './domain/batch-forming.js';

export { createBatcher } from './service.js';
export type { Batcher, BatcherDeps } from './service.js';

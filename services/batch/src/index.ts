export { createBatchService } from './service.js';
export type { BatchService, BatchServiceDeps } from './service.js';
export { migrate as migrateBatch } from './migrate.js';
export { parseOffPeak } from './domain/off-peak.js';

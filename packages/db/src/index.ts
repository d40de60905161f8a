export { runMigrations } from './run-migrations.js';
export type { MigrationSet } from './run-migrations.js';
export { gpuMicros } from './gpu-micros.js';
export { retryConflicts, isRetryableConflict, isRowRefusal } from './retry-conflicts.js';

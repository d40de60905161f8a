export { createMetering } from './service.js';
export type { Metering, MeteringDeps } from './service.js';
export { migrate as migrateMetering } from './migrate.js';
export { recordUsage } from './usage-store.js';
export { meteredUsage, toMetered, toBillableFromMetered, rollupDeltas, minuteOf } from './domain/rollup.js';
export type { MeteredUsage, RollupDelta } from './domain/rollup.js';

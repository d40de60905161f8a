/**
 * Reads of metering's usage tables (`metered_usage`, `usage_minute_rollups`). Metering owns
 * them (it writes them and its migrations create them); every other reader, billing and the
 * CLI through billing, goes through these queries, so the tables' layout is known in one
 * place besides metering itself.
 */
export { listRollups } from './rollups.js';
export type { RollupRow } from './rollups.js';
export { hourQuantitiesOf, meteredHours, meteredRequestIds } from './metered-usage.js';
export type { HourRow, MeteredHour } from './metered-usage.js';

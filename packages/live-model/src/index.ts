export { createTopModel } from './top-model.js';
export type { LivePoolState, PoolRow, TenantRow, TierRow, TopModel, TopModelOptions, TopPoolInput, TopSnapshot } from './top-model.js';
export { percentile } from './percentile.js';
export { billsTokens, bookAtOf, charge, outcomeOf } from './usage-charge.js';
export type { BookAt } from './usage-charge.js';

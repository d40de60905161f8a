export { createScheduler } from './service.js';
export type { Scheduler, SchedulerDeps } from './service.js';
export { placeRequest, poolStates } from './placement.js';
export type { Placement, PoolState } from './placement.js';

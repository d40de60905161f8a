export { runService, runMain } from './run-service.js';
export type { CommonConfig, ServiceContext, Stoppable, RunServiceOptions } from './run-service.js';
export { stopOnSignals } from './stop-on-signals.js';
export { followConsumerLag } from './consumer-lag.js';
export type { ConsumerLag, ConsumerLagOptions } from './consumer-lag.js';

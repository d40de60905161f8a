export { createWorkerSimulator } from './service.js';
export type { WorkerSimulator, WorkerSimulatorDeps } from './service.js';
export { createPerfModel } from './perf-model.js';
export type { PerfModel, PerfModelOptions } from './perf-model.js';
export { loadProfiles } from './load-profiles.js';

export { createWorkerSimulator } from './service.js';
export type { WorkerSimulator, WorkerSimulatorDeps } from './service.js';
export { createEngine } from './engine.js';
export type { Engine, EngineOptions, EngineLoad, SequenceSpec, SequenceResult, StepReport } from './engine.js';
export { createSimClock, parseSpeed } from './sim-clock.js';
export type { SimClock, SimClockOptions, Speed } from './sim-clock.js';
export { parseFaultCommand } from './faults.js';

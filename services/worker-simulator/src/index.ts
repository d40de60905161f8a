export { createWorkerSimulator } from './service.js';
export type { WorkerSimulator, WorkerSimulatorDeps } from './service.js';
export { createEngine } from './domain/engine.js';
export type { Engine, EngineOptions, EngineLoad, SequenceSpec, SequenceResult, StepReport } from './domain/engine.js';
export { createSimClock, parseSpeed } from './domain/sim-clock.js';
export type { SimClock, SimClockOptions, Speed } from './domain/sim-clock.js';
export { parseFaultCommand } from './domain/faults.js';

export { createBatchTracker } from './batch-tracker.js';
export type { BatchTracker, BatchTrackerOptions } from './batch-tracker.js';
export { createIntake, createSignal } from './intake.js';
export type { Intake, IntakeDeps, Signal } from './intake.js';
export { attemptUsageId } from './domain/attempt-usage.js';
export type { AttemptRef } from './domain/attempt-usage.js';
export { createChunkOutbox, publishCompleted, publishUnfinished, publishUsage } from './outcomes.js';
export type { AttemptSpend, ChunkOutbox, OutputDeps, RequestTimes, Unfinished } from './outcomes.js';
export { acceptBatch } from './accept-batch.js';

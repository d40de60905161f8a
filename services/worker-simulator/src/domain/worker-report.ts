import type { WorkerFaultReply, WorkerHeartbeat } from '@switchyard/contracts';
import { IDLE_LOAD, type EngineLoad } from './engine.js';
import type { ActiveFaults } from './faults.js';

/** What a worker knows about itself at one moment, for its heartbeat and its fault replies. */
export interface WorkerSnapshot {
  readonly pool: string;
  readonly worker: string;
  /** Undefined while crashed: a dead worker holds nothing. */
  readonly load: EngineLoad | undefined;
  readonly faults: ActiveFaults;
  readonly stopping: boolean;
  /** Recent step time and TTFT, simulated ms. */
  readonly stepMs: number;
  readonly ttftMs: number;
  /** Simulated ms since the last step ended. */
  readonly sinceStepMs: number;
  readonly nowMs: number;
}

/**
 * The heartbeat of a worker. A draining or stopping worker offers no slots; a hung worker's
 * step never ends, so once it has been stuck longer than its usual step it reports the time stuck.
 */
export function heartbeatOf(s: WorkerSnapshot): WorkerHeartbeat {
  const load = s.load ?? IDLE_LOAD;
  const draining = s.faults.draining || s.stopping;
  return {
    pool: s.pool,
    worker: s.worker,
    running: load.running,
    waiting: load.waiting,
    freeSlots: draining ? 0 : load.freeSlots,
    kvUsed: load.kvUsed,
    freeKvTokens: draining ? 0 : load.freeKvTokens,
    prefillTokens: load.prefillTokens,
    stepMs: s.faults.hung ? Math.max(s.stepMs, s.sinceStepMs) : s.stepMs,
    ttftMs: s.ttftMs,
    draining,
    atUnixMs: s.nowMs,
  };
}

/** A worker's answer to a fault command: the faults in force and its load, or why the command was refused. */
export function faultReplyOf(s: WorkerSnapshot, error = ''): WorkerFaultReply {
  const f = s.faults;
  return {
    pool: s.pool,
    worker: s.worker,
    error,
    crashed: f.crashed,
    hung: f.hung,
    draining: f.draining,
    slowdown: f.slowdown,
    errorFraction: f.errorFraction,
    cutFraction: f.cut?.fraction ?? 0,
    cutAfterTokens: f.cut?.afterTokens ?? 0,
    running: s.load?.running ?? 0,
    waiting: s.load?.waiting ?? 0,
  };
}

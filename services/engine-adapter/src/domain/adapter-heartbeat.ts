import type { WorkerHeartbeat } from '@switchyard/contracts';

export interface AdapterLoad {
  readonly pool: string;
  readonly worker: string;
  /** Requests upstream now. */
  readonly running: number;
  /** Requests pulled and waiting for a slot under the limit. */
  readonly waiting: number;
  /** The endpoint's concurrency limit. */
  readonly limit: number;
  /** Recent time to first token observed upstream, ms (0 before any). */
  readonly ttftMs: number;
  readonly stopping: boolean;
  readonly nowMs: number;
}

/**
 * The heartbeat an adapter publishes, in the simulator's terms: capacity is the concurrency
 * limit, free slots what is left of it. The upstream's KV cache is not visible (engine metrics
 * scraping is not built yet), so `kvUsed` is 0 and `freeKvTokens` is left out, as from any
 * worker that does not model the cache.
 */
export function adapterHeartbeat(l: AdapterLoad): WorkerHeartbeat {
  const freeSlots = l.stopping ? 0 : Math.max(0, l.limit - l.running - l.waiting);
  return {
    pool: l.pool,
    worker: l.worker,
    running: l.running,
    waiting: l.waiting,
    freeSlots,
    kvUsed: 0,
    // No engine step is visible from outside; the scheduler reads a step time far past the usual as a hang.
    stepMs: 0,
    ttftMs: l.ttftMs,
    draining: l.stopping,
    atUnixMs: l.nowMs,
  };
}

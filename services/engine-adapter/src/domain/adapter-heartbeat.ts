import type { WorkerHeartbeat } from '@switchyard/contracts';
import type { EngineMetrics } from './engine-metrics.js';

/** What one upstream of a pool carries now, as the adapter and (when scraped) the engine see it. */
export interface UpstreamLoad {
  readonly pool: string;
  readonly worker: string;
  /** Our requests upstream now. */
  readonly running: number;
  /** Our requests pulled and waiting for a slot under the limit. */
  readonly waiting: number;
  /** The endpoint's concurrency limit. */
  readonly limit: number;
  /** The engine's own figures from its metrics; undefined for a provider or when the scrape fails. */
  readonly engine?: EngineMetrics;
  /** Recent time to first token, ms (0 before any). */
  readonly ttftMs: number;
  readonly stopping: boolean;
  /** The circuit breaker is open: the upstream is out of placement. */
  readonly circuitOpen: boolean;
  /** The upstream answered 429 and asked for nothing new before this Unix ms. */
  readonly pausedUntilMs: number;
  /** Requests the provider's rate limits allow now (Infinity without limits). */
  readonly rateRoom: number;
  readonly nowMs: number;
}

/**
 * Batches the adapter may pull for this upstream now. None while stopping or rate-limited; while
 * the breaker is open it keeps pulling, so what is queued for the pool is re-placed at once
 * rather than waiting out the breaker. Otherwise what the concurrency limit leaves, less the
 * queue the engine reports (other clients' work, or ours the engine could not start yet), and
 * no more than the provider's rate limits allow.
 */
export function upstreamRoom(l: UpstreamLoad): number {
  if (l.stopping || l.nowMs < l.pausedUntilMs) return 0;
  if (l.circuitOpen) return l.limit;
  return Math.max(0, Math.min(l.rateRoom, l.limit - l.running - l.waiting - (l.engine?.waiting ?? 0)));
}

/**
 * The heartbeat of one upstream, in the simulator's terms, so the scheduler places, sheds and
 * fails over unchanged: running and waiting as the engine reports them (at least ours), the
 * engine's KV-cache use, free slots as the pull room, and an open breaker as draining, which
 * takes the pool out of placement.
 */
export function adapterHeartbeat(l: UpstreamLoad): WorkerHeartbeat {
  const draining = l.stopping || l.circuitOpen;
  return {
    pool: l.pool,
    worker: l.worker,
    running: Math.max(l.running, l.engine?.running ?? 0),
    waiting: l.waiting + (l.engine?.waiting ?? 0),
    freeSlots: draining ? 0 : upstreamRoom(l),
    kvUsed: l.engine?.kvUsed ?? 0,
    // No engine step is visible from outside; the scheduler reads a step time far past the usual as a hang.
    stepMs: 0,
    ttftMs: l.ttftMs,
    draining,
    atUnixMs: l.nowMs,
  };
}

import type { PoolSpec } from '@switchyard/config';
import type { SchedulerMetrics } from '../metrics.js';
import type { PoolState } from './domain/pool-state.js';

export interface DeadPoolSweepDeps {
  readonly pools: readonly PoolSpec[];
  readonly states: () => ReadonlyMap<string, PoolState>;
  /** Requests placed on a pool and not ended yet (reported as a gauge on each sweep). */
  readonly outstanding: (pool: string) => number;
  /** Moves what a dead pool holds elsewhere (the failover's sweep). */
  readonly sweep: (pool: string) => Promise<unknown>;
  readonly metrics: SchedulerMetrics;
  /** When the scheduler started: no pool is called dead before one heartbeat age has passed. */
  readonly startedAt: number;
  readonly staleAfterMs: number;
  readonly now: () => number;
  /** Default 500 ms. */
  readonly intervalMs?: number;
}

/** Every `intervalMs`, moves work off pools that have no healthy or draining worker; returns its stop. */
export function startDeadPoolSweep(deps: DeadPoolSweepDeps): () => void {
  function sweep(): void {
    if (deps.now() - deps.startedAt < deps.staleAfterMs) return;
    const live = deps.states();
    // Reported before the guard below: a fleet with no healthy worker anywhere is what an
    // operator most needs to see.
    for (const p of deps.pools) {
      const s = live.get(p.id);
      deps.metrics.workers.set({ pool: p.id, state: 'healthy' }, s?.healthyWorkers ?? 0);
      deps.metrics.workers.set({ pool: p.id, state: 'draining' }, s?.drainingWorkers ?? 0);
    }
    // With no pool heartbeating at all, the silence is more likely ours (a stalled watch) than
    // every pool's, and there is nowhere to move work to anyway.
    if (![...live.values()].some((s) => s.healthyWorkers > 0)) return;
    for (const p of deps.pools) {
      const s = live.get(p.id);
      deps.metrics.outstanding.set({ pool: p.id }, deps.outstanding(p.id));
      if (!s || (s.healthyWorkers === 0 && s.drainingWorkers === 0)) void deps.sweep(p.id);
    }
  }
  const timer = setInterval(sweep, deps.intervalMs ?? 500);
  return () => clearInterval(timer);
}

import type { WorkerHeartbeat } from '@switchyard/contracts';

/** Live state of one pool, folded from its workers' heartbeats. */
export interface PoolState {
  /** Workers with a fresh heartbeat that take work (not draining, not hung). */
  readonly healthyWorkers: number;
  /** Workers with a fresh heartbeat that are draining (finish what they hold, take nothing). */
  readonly drainingWorkers: number;
  /** Workers whose step has been stuck longer than the hang threshold. */
  readonly hungWorkers: number;
  /** Sequences generating / waiting on the healthy workers' GPUs. */
  readonly running: number;
  readonly waiting: number;
  readonly freeSlots: number;
  /** Highest KV-cache use among healthy workers, 0..1. */
  readonly kvUsed: number;
  /** Mean recent step time of the healthy workers, simulated ms. */
  readonly stepMs: number;
  /** Mean recent TTFT on the healthy workers, simulated ms. */
  readonly ttftMs: number;
  /** Newest heartbeat of any worker, Unix ms. */
  readonly lastBeatUnixMs: number;
}

export interface FoldOptions {
  /** A worker silent this long is out. */
  readonly staleMs: number;
  /** A worker reporting a step longer than this (simulated ms) is hung. Default 5,000. */
  readonly hungStepMs?: number;
}

/**
 * Folds heartbeats into per-pool state. Only pools with at least one fresh heartbeat appear;
 * a pool that is missing is down (or not started).
 */
export function poolStates(heartbeats: Iterable<WorkerHeartbeat>, nowMs: number, options: FoldOptions): Map<string, PoolState> {
  const hungStepMs = options.hungStepMs ?? 5_000;
  const acc = new Map<
    string,
    { healthy: number; draining: number; hung: number; running: number; waiting: number; free: number; kv: number; step: number; ttft: number; last: number }
  >();
  for (const h of heartbeats) {
    if (nowMs - h.atUnixMs > options.staleMs) continue;
    const s = acc.get(h.pool) ?? { healthy: 0, draining: 0, hung: 0, running: 0, waiting: 0, free: 0, kv: 0, step: 0, ttft: 0, last: 0 };
    s.last = Math.max(s.last, h.atUnixMs);
    acc.set(h.pool, s);
    if (h.draining) {
      s.draining++;
      continue;
    }
    if (h.stepMs > hungStepMs) {
      s.hung++;
      continue;
    }
    s.healthy++;
    s.running += h.running;
    s.waiting += h.waiting;
    s.free += h.freeSlots;
    s.kv = Math.max(s.kv, h.kvUsed);
    s.step += h.stepMs;
    s.ttft += h.ttftMs;
  }
  const states = new Map<string, PoolState>();
  for (const [pool, s] of acc) {
    states.set(pool, {
      healthyWorkers: s.healthy,
      drainingWorkers: s.draining,
      hungWorkers: s.hung,
      running: s.running,
      waiting: s.waiting,
      freeSlots: s.free,
      kvUsed: s.kv,
      stepMs: s.healthy ? s.step / s.healthy : 0,
      ttftMs: s.healthy ? s.ttft / s.healthy : 0,
      lastBeatUnixMs: s.last,
    });
  }
  return states;
}

import type { PoolCostModel } from '@switchyard/config';
import type { WorkerHeartbeat } from '@switchyard/contracts';

const MINUTE = 60_000;

/** A worker that was provisioned in a minute: it sent a live heartbeat then. */
export interface FleetMinute {
  readonly pool: string;
  readonly worker: string;
  /** Start of the minute. */
  readonly minuteMs: number;
}

/**
 * The workers provisioned now: every worker whose last heartbeat is at most `staleMs` old,
 * draining ones included (a draining GPU is still paid for). A minute counts whole once any
 * heartbeat of the worker was live in it, as clouds bill by the minute.
 */
export function provisionedNow(beats: Iterable<WorkerHeartbeat>, nowMs: number, staleMs: number): FleetMinute[] {
  const minuteMs = Math.floor(nowMs / MINUTE) * MINUTE;
  const out = new Map<string, FleetMinute>();
  for (const b of beats) {
    if (nowMs - b.atUnixMs > staleMs || b.atUnixMs - nowMs > staleMs) continue;
    out.set(`${b.pool}\u0000${b.worker}`, { pool: b.pool, worker: b.worker, minuteMs });
  }
  return [...out.values()].sort((a, b) => (a.pool + a.worker < b.pool + b.worker ? -1 : 1));
}

/** One pool's hour (or month): GPU time provisioned and used, at the pool's price. */
export interface PoolHourQuantities {
  readonly pool: string;
  readonly workerMinutes: number;
  /** GPU-seconds requests used (posted usage on the pool). */
  readonly usedGpuSeconds: number;
  /** GPU cost of that usage, as posted. */
  readonly usedCostMicros: number;
  /** How the pool costs the platform (`poolCostModel`). */
  readonly cost: PoolCostModel;
}

export interface IdleAccrual {
  readonly provisionedGpuSeconds: number;
  readonly provisionedCostMicros: number;
  readonly idleGpuSeconds: number;
  /** What the provisioned GPUs cost beyond the GPU cost of the usage already accrued; never negative. */
  readonly idleCostMicros: number;
  /** used / provisioned; 0 when nothing was provisioned. */
  readonly utilization: number;
}

const NOTHING_PROVISIONED: IdleAccrual = { provisionedGpuSeconds: 0, provisionedCostMicros: 0, idleGpuSeconds: 0, idleCostMicros: 0, utilization: 0 };

/**
 * Whether a pool has provisioned GPUs whose idle time costs the platform: a GPU-hour pool
 * does; a per-token pool does not (its heartbeats are adapter processes, not GPUs, and its
 * provider bills only the tokens it served).
 */
export const accruesIdleCost = (cost: PoolCostModel): boolean => cost.kind === 'gpu-hour';

/**
 * The idle part of a pool's provisioned GPU time: usage already accrues its own GPU cost,
 * so only the provisioned cost beyond it is accrued as idle, and usage plus idle equals what
 * the fleet cost (one worker is one GPU, each minute with a live heartbeat counts). A
 * per-token pool provisions nothing, so all of it is 0.
 */
export function idleAccrual(q: PoolHourQuantities): IdleAccrual {
  if (q.cost.kind !== 'gpu-hour') return NOTHING_PROVISIONED;
  const provisionedGpuSeconds = q.workerMinutes * 60;
  const provisionedCostMicros = Math.round(q.workerMinutes * ((q.cost.pricePerGpuHour * 1e6) / 60));
  return {
    provisionedGpuSeconds,
    provisionedCostMicros,
    idleGpuSeconds: Math.max(0, provisionedGpuSeconds - q.usedGpuSeconds),
    idleCostMicros: Math.max(0, provisionedCostMicros - q.usedCostMicros),
    utilization: provisionedGpuSeconds > 0 ? q.usedGpuSeconds / provisionedGpuSeconds : 0,
  };
}

import { describe, expect, it } from 'vitest';
import { accruesIdleCost, idleAccrual, provisionedNow } from './fleet.js';

const beat = (pool: string, worker: string, atUnixMs: number) => ({
  pool,
  worker,
  running: 0,
  waiting: 0,
  freeSlots: 8,
  kvUsed: 0,
  stepMs: 20,
  ttftMs: 50,
  draining: worker.endsWith('d'),
  atUnixMs,
});

describe('fleet', () => {
  it('counts every worker with a live heartbeat, draining ones included, in the current minute', () => {
    const now = Date.UTC(2030, 0, 1, 10, 7, 42);
    const minuteMs = Date.UTC(2030, 0, 1, 10, 7);
    expect(
      provisionedNow([beat('p', 'w2', now - 1_000), beat('p', 'w1d', now - 500), beat('p', 'dead', now - 30_000), beat('q', 'w1', now)], now, 5_000),
    ).toEqual([
      { pool: 'p', worker: 'w1d', minuteMs },
      { pool: 'p', worker: 'w2', minuteMs },
      { pool: 'q', worker: 'w1', minuteMs },
    ]);
  });

  it('accrues as idle what provisioned GPUs cost beyond the usage on them', () => {
    // 2 workers for an hour at 3.60/GPU-hour, a quarter of it used.
    expect(
      idleAccrual({ pool: 'p', workerMinutes: 120, usedGpuSeconds: 1_800, usedCostMicros: 1_800_000, cost: { kind: 'gpu-hour', pricePerGpuHour: 3.6 } }),
    ).toEqual({
      provisionedGpuSeconds: 7_200,
      provisionedCostMicros: 7_200_000,
      idleGpuSeconds: 5_400,
      idleCostMicros: 5_400_000,
      utilization: 0.25,
    });
    expect(
      idleAccrual({ pool: 'p', workerMinutes: 1, usedGpuSeconds: 90, usedCostMicros: 90_000, cost: { kind: 'gpu-hour', pricePerGpuHour: 3.6 } }),
    ).toMatchObject({
      idleCostMicros: 0,
      idleGpuSeconds: 0,
      utilization: 1.5,
    });
    expect(
      idleAccrual({ pool: 'p', workerMinutes: 0, usedGpuSeconds: 0, usedCostMicros: 0, cost: { kind: 'gpu-hour', pricePerGpuHour: 3.6 } }).utilization,
    ).toBe(0);
  });

  it('accrues no idle cost for a per-token pool: its provider bills the tokens served, and nothing for minutes without any', () => {
    const perToken = { kind: 'per-token', inputPerMillion: 2.5, cachedInputPerMillion: 2.5, outputPerMillion: 10 } as const;
    // Two adapter processes heartbeating all hour, 5,330 micros of tokens served.
    expect(idleAccrual({ pool: 'azure-oai', workerMinutes: 120, usedGpuSeconds: 0, usedCostMicros: 5_330, cost: perToken })).toEqual({
      provisionedGpuSeconds: 0,
      provisionedCostMicros: 0,
      idleGpuSeconds: 0,
      idleCostMicros: 0,
      utilization: 0,
    });
    expect(accruesIdleCost(perToken)).toBe(false);
    expect(accruesIdleCost({ kind: 'gpu-hour', pricePerGpuHour: 3.6 })).toBe(true);
  });
});

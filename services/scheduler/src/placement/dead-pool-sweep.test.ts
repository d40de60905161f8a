import { Registry } from '@switchyard/telemetry';
import { testPool } from '@switchyard/testing';
import { describe, expect, it, vi } from 'vitest';
import { createSchedulerMetrics } from '../metrics.js';
import { startDeadPoolSweep } from './dead-pool-sweep.js';
import type { PoolState } from './domain/pool-state.js';

const state = (healthyWorkers: number, drainingWorkers: number) => ({ healthyWorkers, drainingWorkers }) as PoolState;

describe('startDeadPoolSweep', () => {
  it('reports each pool’s live workers, also when no pool anywhere has a healthy one, and sweeps the dead pool', async () => {
    vi.useFakeTimers();
    const registry = new Registry();
    const swept: string[] = [];
    let live = new Map([
      ['a', state(2, 0)],
      ['b', state(0, 1)],
    ]);
    const stop = startDeadPoolSweep({
      pools: [testPool({ id: 'a' }), testPool({ id: 'b' }), testPool({ id: 'c' })],
      states: () => live,
      outstanding: () => 0,
      sweep: async (pool) => void swept.push(pool),
      metrics: createSchedulerMetrics(registry),
      startedAt: 0,
      staleAfterMs: 0,
      now: () => 1,
      intervalMs: 1,
    });
    const workers = async () =>
      (await registry.getSingleMetric('switchyard_scheduler_pool_workers')!.get()).values.map((v) => `${v.labels.pool}/${v.labels.state}=${v.value}`);
    vi.advanceTimersByTime(1);
    expect(await workers()).toEqual(['a/healthy=2', 'a/draining=0', 'b/healthy=0', 'b/draining=1', 'c/healthy=0', 'c/draining=0']);
    expect(swept).toContain('c');
    expect(swept).not.toContain('b');
    live = new Map([['a', state(0, 0)]]);
    vi.advanceTimersByTime(1);
    stop();
    vi.useRealTimers();
    expect(await workers()).toContain('a/healthy=0');
  });
});

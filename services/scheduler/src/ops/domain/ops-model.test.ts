import type { PoolSpec } from '@switchyard/config';
import { PoolHealth } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { routeSchema } from '../../config.js';
import { createLoadTracker } from '../../placement/domain/load-tracker.js';
import { poolStatus, withWeights } from './ops-model.js';
import { poolStates } from '../../placement/domain/pool-state.js';

const known = { versions: new Set(['llama-3.1-8b', 'llama-3.1-8b-v2']), aliases: new Set(['chat-small']) };

describe('ops: route weights', () => {
  it('starts a canary judged from now on', () => {
    const r = withWeights(
      undefined,
      [
        { version: 'llama-3.1-8b', weight: 80 },
        { version: 'llama-3.1-8b-v2', weight: 20 },
      ],
      'llama-3.1-8b-v2',
      known,
      42,
    );
    expect(r.canary).toEqual({ version: 'llama-3.1-8b-v2', status: 'running', reason: '', sinceUnixMs: 42 });
    expect(routeSchema.parse(r)).toEqual(r);
  });

  it('refuses unknown versions, duplicates, all-zero weights and a canary outside the versions', () => {
    expect(() => withWeights(undefined, [{ version: 'gpt-9', weight: 1 }], '', known, 0)).toThrow(/no pool serves version "gpt-9"/);
    expect(() =>
      withWeights(
        undefined,
        [
          { version: 'llama-3.1-8b', weight: 1 },
          { version: 'llama-3.1-8b', weight: 2 },
        ],
        '',
        known,
        0,
      ),
    ).toThrow(/twice/);
    expect(() => withWeights(undefined, [{ version: 'llama-3.1-8b', weight: 0 }], '', known, 0)).toThrow(/above 0/);
    expect(() => withWeights(undefined, [{ version: 'llama-3.1-8b', weight: 1 }], 'llama-3.1-8b-v2', known, 0)).toThrow(/must be one of/);
  });

  it("keeps an auto route's rule and a rolled-back canary's record when only weights change", () => {
    const current = routeSchema.parse({
      versions: [
        { version: 'llama-3.1-8b', weight: 1 },
        { version: 'llama-3.1-8b-v2', weight: 0 },
      ],
      canary: { version: 'llama-3.1-8b-v2', status: 'rolled-back', reason: 'errors' },
      auto: { small: 'chat-small', large: 'llama-3.1-8b' },
    });
    const r = withWeights(
      current,
      [
        { version: 'llama-3.1-8b', weight: 1 },
        { version: 'llama-3.1-8b-v2', weight: 0 },
      ],
      '',
      known,
      0,
    );
    expect(r.auto?.small).toBe('chat-small');
    expect(r.canary?.status).toBe('rolled-back');
  });
});

describe('ops: pool status', () => {
  const pool: PoolSpec = {
    id: 'p',
    provider: 'aws',
    region: 'r',
    gpu: 'h100-80gb',
    model: 'llama-3.1-8b',
    workers: 2,
    capacityClass: 'spot',
    pricePerGpuHour: 2,
    tiers: ['realtime'],
    slotsPerWorker: 8,
  };
  const beat = { pool: 'p', worker: 'w0', running: 3, waiting: 1, freeSlots: 4, kvUsed: 0.2, stepMs: 9, ttftMs: 40, draining: false, atUnixMs: 1_000 };
  it('reports health from heartbeats and drains', () => {
    const states = poolStates([beat], 1_000, { staleMs: 2_000 });
    const tracker = createLoadTracker();
    tracker.dispatched('x', 'p', 'realtime', 1, 1, 0);
    expect(poolStatus(pool, states.get('p'), undefined, tracker.of('p').total)).toMatchObject({
      health: PoolHealth.POOL_HEALTH_DEGRADED,
      healthyWorkers: 1,
      running: 3,
      outstanding: 1,
    });
    expect(poolStatus(pool, undefined, undefined, 0).health).toBe(PoolHealth.POOL_HEALTH_DOWN);
    expect(poolStatus(pool, states.get('p'), 'maintenance', 0)).toMatchObject({ health: PoolHealth.POOL_HEALTH_DRAINED, drainReason: 'maintenance' });
  });

  it("shows a GPU pool's GPU-hour price and a provider pool's token prices", () => {
    expect(poolStatus(pool, undefined, undefined, 0)).toMatchObject({ costBasis: 'gpu-hour', pricePerGpuHour: 2, inputPerMillion: 0, outputPerMillion: 0 });
    const { pricePerGpuHour: _, ...rest } = pool;
    const provider: PoolSpec = { ...rest, id: 'azure-oai', kind: 'provider', tokenPrices: { inputPerMillion: 2.5, outputPerMillion: 10 } };
    expect(poolStatus(provider, undefined, undefined, 0)).toMatchObject({
      costBasis: 'per-token',
      pricePerGpuHour: 0,
      inputPerMillion: 2.5,
      cachedInputPerMillion: 2.5,
      outputPerMillion: 10,
    });
  });
});

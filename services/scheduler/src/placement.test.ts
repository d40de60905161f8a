import type { PoolSpec } from '@switchyard/config';
import { Tier, type RequestSpec, type WorkerHeartbeat } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { placeRequest, poolStates } from './placement.js';

const pool = (id: string, model: PoolSpec['model'], tiers: PoolSpec['tiers'] = ['realtime', 'internal', 'batch']): PoolSpec => ({
  id, provider: 'aws', region: 'r', gpu: 'h100-80gb', model, workers: 1, capacityClass: 'on-demand', pricePerGpuHour: 1, tiers, slotsPerWorker: 8,
});
const beat = (poolId: string, atUnixMs: number, draining = false): WorkerHeartbeat => ({
  pool: poolId, worker: `${poolId}-w0`, running: 0, waiting: 0, freeSlots: 8, kvUsed: 0, stepMs: 0, ttftMs: 0, draining, atUnixMs,
});
const request = { requestId: 'r1', model: 'llama-3.1-8b', tier: Tier.TIER_REALTIME } as RequestSpec;
const pools = [pool('a', 'llama-3.1-8b'), pool('b', 'llama-3.1-8b'), pool('c', 'llama-3.2-1b')];

describe('placement', () => {
  it('skips pools whose heartbeat is stale or draining', () => {
    const states = poolStates([beat('a', 1_000), beat('b', 9_000), beat('c', 9_500, true)], 10_000, 3_000);
    expect([...states.keys()]).toEqual(['b']);
    const p = placeRequest(request, 'realtime', pools, states);
    expect(p).toMatchObject({ kind: 'placed', pool: 'b' });
    expect(p.candidates.map((c) => c.reason)).toEqual(['no healthy worker', 'healthy']);
  });

  it('rejects an unknown model naming the models that exist', () => {
    const p = placeRequest({ ...request, model: 'gpt-9' }, 'realtime', pools, new Map());
    expect(p.kind).toBe('reject');
    expect(p.reason).toContain('llama-3.1-8b, llama-3.2-1b');
  });

  it('waits, rather than rejects, when the model exists but no worker is up yet', () => {
    expect(placeRequest(request, 'realtime', pools, new Map()).kind).toBe('wait');
  });

  it('rejects a tier no pool of the model accepts', () => {
    const batchOnly = [pool('a', 'llama-3.1-8b', ['batch'])];
    const states = poolStates([beat('a', 10_000)], 10_000, 3_000);
    expect(placeRequest(request, 'realtime', batchOnly, states)).toMatchObject({ kind: 'reject' });
  });
});

import { Outcome, RequestState, Tier } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { createRequestStore } from './request-store.js';
import { useTestRedis } from './redis.fixture.js';

const redis = useTestRedis();

const admittedRecord = (requestId: string) => ({ requestId, tenant: 'acme', model: 'llama-3.1-8b', tier: Tier.TIER_REALTIME, admittedUnixMs: 1_000 });
const completed = (requestId: string) => ({
  requestId,
  outcome: Outcome.OUTCOME_COMPLETED,
  usage: { inputTokens: 5, cachedInputTokens: 0, outputTokens: 7 },
  reason: '',
  atUnixMs: 2_000,
});

describe('request store', () => {
  it('ends with the same record whichever of admission and outcome is written first', async () => {
    const store = createRequestStore(redis());
    await store.admitted(admittedRecord('in-order'));
    await store.terminated(completed('in-order'));
    // The request went out before its admission was recorded, and finished first.
    await store.terminated(completed('reversed'));
    await store.admitted(admittedRecord('reversed'));
    const [inOrder, reversed] = [await store.get('in-order'), await store.get('reversed')];
    expect(reversed).toEqual({ ...inOrder, requestId: 'reversed' });
    expect(reversed).toMatchObject({
      tenant: 'acme',
      state: RequestState.REQUEST_STATE_COMPLETED,
      admittedUnixMs: 1_000,
      finishedUnixMs: 2_000,
      usage: { outputTokens: 7 },
    });
    expect(await redis().ttl('sy:req:reversed')).toBeGreaterThan(0);
  });

  it('keeps the first terminal outcome when another arrives later', async () => {
    const store = createRequestStore(redis());
    await store.admitted(admittedRecord('twice'));
    await store.terminated(completed('twice'));
    await store.terminated({ requestId: 'twice', outcome: Outcome.OUTCOME_FAILED, reason: 'late duplicate', atUnixMs: 3_000 });
    expect(await store.get('twice')).toMatchObject({ state: RequestState.REQUEST_STATE_COMPLETED, reason: '', finishedUnixMs: 2_000 });
  });
});

import { Outcome, Tier, type RequestSpec } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { preflight, stoppedByCaller, type PreflightContext } from './preflight.js';

const request: RequestSpec = {
  requestId: 'r1',
  tenant: 'acme',
  tier: Tier.TIER_REALTIME,
  model: 'llama-3.1-8b',
  prompt: '',
  promptTokens: 10,
  maxTokens: 5,
  feature: '',
  seed: 1,
  inbox: '_SY.tokens.r1',
  relayInbox: '',
  replacedFrom: '',
  prefixHashes: [],
  prefixBlockTokens: 0,
  traceparent: '',
  stop: [],
  deadlineUnixMs: 0,
  admittedUnixMs: 0,
};
const ctx: PreflightContext = { nowMs: 10_000, pool: { id: 'p', model: 'llama-3.1-8b' }, workerId: 'w0', cancelled: false, errorFraction: 0, draw: () => 0.5 };

describe('preflight', () => {
  it('runs a request that is due, for this model, with no fault drawn', () => {
    expect(preflight(request, ctx)).toBeUndefined();
    expect(preflight({ ...request, deadlineUnixMs: 10_001 }, { ...ctx, errorFraction: 0.5 })).toBeUndefined();
  });

  it('ends, with a reason, what was cancelled, is past its deadline, is for another model or draws an injected error', () => {
    expect(preflight(request, { ...ctx, cancelled: true })).toMatchObject({ outcome: Outcome.OUTCOME_CANCELLED });
    expect(preflight({ ...request, deadlineUnixMs: 10_000 }, ctx)).toMatchObject({
      outcome: Outcome.OUTCOME_EXPIRED,
      reason: expect.stringMatching(/deadline/),
    });
    expect(preflight({ ...request, model: 'llama-3.2-1b' }, ctx)).toMatchObject({
      outcome: Outcome.OUTCOME_FAILED,
      reason: 'pool p serves llama-3.1-8b, not llama-3.2-1b',
    });
    expect(preflight(request, { ...ctx, errorFraction: 0.51 })).toMatchObject({ outcome: Outcome.OUTCOME_FAILED, reason: expect.stringMatching(/injected/) });
  });
});

describe('stoppedByCaller', () => {
  const base = { ...request, deadlineUnixMs: 0 };

  it('ends a request stopped past its deadline EXPIRED, any other stop CANCELLED', () => {
    expect(stoppedByCaller({ ...base, deadlineUnixMs: 1_000 }, 1_000).outcome).toBe(Outcome.OUTCOME_EXPIRED);
    expect(stoppedByCaller({ ...base, deadlineUnixMs: 1_000 }, 999).outcome).toBe(Outcome.OUTCOME_CANCELLED);
    expect(stoppedByCaller({ ...base, deadlineUnixMs: 0 }, 5_000).outcome).toBe(Outcome.OUTCOME_CANCELLED);
  });
});

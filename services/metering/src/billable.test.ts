import { Tier, type UsageRecorded } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { toBillable } from './billable.js';

describe('toBillable', () => {
  it('carries the usage id through and converts GPU time to seconds', () => {
    const u: UsageRecorded = {
      usageId: 'u1', requestId: 'r1', tenant: 'acme', feature: 'chat', model: 'llama-3.1-8b', tier: Tier.TIER_REALTIME, pool: 'p',
      workerId: 'w', usage: { inputTokens: 10, cachedInputTokens: 2, outputTokens: 5 }, gpuMs: 1500, queueMs: 1, ttftMs: 2, totalMs: 3,
    };
    expect(toBillable(u, 42)).toMatchObject({ usageId: 'u1', gpuSeconds: 1.5, recordedUnixMs: 42, usage: { inputTokens: 10, outputTokens: 5 } });
  });
});

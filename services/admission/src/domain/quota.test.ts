import { describe, expect, it } from 'vitest';
import { rateBuckets } from './quota.js';

describe('quota', () => {
  it('charges one request and prompt+max_tokens tokens against the tier buckets', () => {
    const b = rateBuckets('acme', 'realtime', { requestsPerMinute: 60, tokensPerMinute: 10_000 }, 1_280);
    expect(b.map((x) => [x.key, x.cost, x.perMinute])).toEqual([
      ['sy:rl:acme:realtime:req', 1, 60],
      ['sy:rl:acme:realtime:tok', 1_280, 10_000],
    ]);
  });
});

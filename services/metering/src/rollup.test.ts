import { Tier, type BillableUsage } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { rollupDeltas, toBillableFromMetered, toMetered } from './rollup.js';

const billable = (over: Partial<BillableUsage> = {}): BillableUsage => ({
  usageId: 'u1', requestId: 'r1', tenant: 'acme', feature: 'chat', model: 'm', tier: Tier.TIER_BATCH, pool: 'p',
  usage: { inputTokens: 10, cachedInputTokens: 2, outputTokens: 5 }, gpuSeconds: 1.2345675, recordedUnixMs: 120_500, ...over,
});

describe('rollups', () => {
  it('sums usage per tenant, minute, feature, model, tier and pool, in key order', () => {
    const rows = rollupDeltas([
      toMetered(billable(), 1),
      toMetered(billable({ usageId: 'u2', recordedUnixMs: 179_999 }), 1),
      toMetered(billable({ usageId: 'u3', recordedUnixMs: 180_000 }), 1),
      toMetered(billable({ usageId: 'u4', tenant: 'a-first' }), 1),
    ]);
    expect(rows.map((r) => [r.tenant, r.minuteMs, r.requests, r.inputTokens, r.gpuMicros])).toEqual([
      ['a-first', 120_000, 1, 10, 1_234_568],
      ['acme', 120_000, 2, 20, 2_469_136],
      ['acme', 180_000, 1, 10, 1_234_568],
    ]);
  });

  it('publishes to billing exactly what it recorded, GPU time at microsecond precision', () => {
    const m = toMetered(billable(), 3);
    expect(m).toMatchObject({ tier: 'batch', gpuMicros: 1_234_568, ttftMs: 3 });
    expect(toBillableFromMetered(m)).toEqual({ ...billable(), gpuSeconds: 1.234568 });
  });
});

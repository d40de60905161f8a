import { Tier, type BillableUsage, type UsageRecorded } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { meteredUsage, rollupDeltas, toBillableFromMetered, toMetered } from './rollup.js';

const billable = (over: Partial<BillableUsage> = {}): BillableUsage => ({
  usageId: 'u1',
  requestId: 'r1',
  tenant: 'acme',
  feature: 'chat',
  model: 'm',
  tier: Tier.TIER_BATCH,
  pool: 'p',
  usage: { inputTokens: 10, cachedInputTokens: 2, outputTokens: 5 },
  gpuSeconds: 1.2345675,
  recordedUnixMs: 120_500,
  ...over,
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

describe('meteredUsage', () => {
  const u: UsageRecorded = {
    usageId: 'u1',
    requestId: 'r1',
    tenant: 'acme',
    feature: 'chat',
    model: 'llama-3.1-8b',
    tier: Tier.TIER_REALTIME,
    pool: 'p',
    workerId: 'w',
    usage: { inputTokens: 10, cachedInputTokens: 2, outputTokens: 5 },
    gpuMs: 1500,
    queueMs: 1,
    ttftMs: 2,
    totalMs: 3,
  };

  it('carries the usage id through and converts GPU time to whole microseconds, in one step', () => {
    expect(meteredUsage(u, 42)).toEqual({
      usageId: 'u1',
      requestId: 'r1',
      tenant: 'acme',
      feature: 'chat',
      model: 'llama-3.1-8b',
      tier: 'realtime',
      pool: 'p',
      inputTokens: 10,
      cachedInputTokens: 2,
      outputTokens: 5,
      gpuMicros: 1_500_000,
      ttftMs: 2,
      recordedUnixMs: 42,
    });
    expect(toBillableFromMetered(meteredUsage(u, 42))).toMatchObject({
      usageId: 'u1',
      gpuSeconds: 1.5,
      recordedUnixMs: 42,
      usage: { inputTokens: 10, outputTokens: 5 },
    });
  });

  it('stores what the old three steps stored: missing tokens as 0, no tier as unspecified, GPU time rounded half up and never negative', () => {
    const bare = meteredUsage({ ...u, usage: undefined, tier: Tier.TIER_UNSPECIFIED, gpuMs: 0.0125, ttftMs: Number.NaN }, 7);
    expect(bare).toMatchObject({ tier: 'unspecified', inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, gpuMicros: 13, ttftMs: 0, recordedUnixMs: 7 });
    expect(meteredUsage({ ...u, gpuMs: -5 }, 7).gpuMicros).toBe(0);
    expect(meteredUsage({ ...u, gpuMs: 1234.5675 }, 7)).toEqual(toMetered({ ...billable(), ...u, gpuSeconds: 1234.5675 / 1000, recordedUnixMs: 7 }, u.ttftMs));
  });
});

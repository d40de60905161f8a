import { Outcome, Tier, type BillableUsage, type UsageRecorded } from '@switchyard/contracts';
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
  outcome: Outcome.OUTCOME_COMPLETED,
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
      outcome: 'completed',
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
    expect(bare).toMatchObject({
      outcome: 'completed',
      tier: 'unspecified',
      inputTokens: 0,
      cachedInputTokens: 0,
      outputTokens: 0,
      gpuMicros: 13,
      ttftMs: 0,
      recordedUnixMs: 7,
    });
    expect(meteredUsage({ ...u, gpuMs: -5 }, 7).gpuMicros).toBe(0);
    expect(meteredUsage({ ...u, gpuMs: 1234.5675 }, 7)).toEqual(toMetered({ ...billable(), ...u, gpuSeconds: 1234.5675 / 1000, recordedUnixMs: 7 }, u.ttftMs));
  });
});

describe('unfinished attempts', () => {
  const u: UsageRecorded = {
    usageId: 'usage-r1-failed-p-w0-1',
    requestId: 'r1',
    tenant: 'acme',
    feature: 'chat',
    model: 'llama-3.1-8b',
    tier: Tier.TIER_REALTIME,
    pool: 'p',
    workerId: 'w0',
    usage: { inputTokens: 100, cachedInputTokens: 0, outputTokens: 37 },
    gpuMs: 820,
    queueMs: 1,
    ttftMs: 2,
    totalMs: 3,
  };

  it('bills a failed attempt no tokens but keeps its GPU time, for billing to book as platform cost', () => {
    const m = meteredUsage({ ...u, outcome: Outcome.OUTCOME_FAILED }, 42);
    expect(m).toMatchObject({ outcome: 'failed', inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, gpuMicros: 820_000 });
    expect(toBillableFromMetered(m)).toMatchObject({
      outcome: Outcome.OUTCOME_FAILED,
      usage: { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 },
      gpuSeconds: 0.82,
    });
  });

  it('bills a cancelled or expired attempt its input and the output streamed until then', () => {
    for (const outcome of [Outcome.OUTCOME_CANCELLED, Outcome.OUTCOME_EXPIRED]) {
      const m = meteredUsage({ ...u, outcome }, 42);
      expect(m).toMatchObject({ inputTokens: 100, outputTokens: 37, gpuMicros: 820_000 });
      expect(toBillableFromMetered(m)).toMatchObject({ outcome, usage: { inputTokens: 100, outputTokens: 37 } });
    }
  });

  it('reads a record without an outcome as a completion, and one it does not know as billing nothing', () => {
    expect(meteredUsage({ ...u, outcome: undefined }, 42)).toMatchObject({ outcome: 'completed', outputTokens: 37 });
    expect(meteredUsage({ ...u, outcome: Outcome.OUTCOME_UNSPECIFIED }, 42)).toMatchObject({ outcome: 'completed', outputTokens: 37 });
    expect(meteredUsage({ ...u, outcome: 99 as Outcome }, 42)).toMatchObject({ outcome: 'failed', outputTokens: 0, gpuMicros: 820_000 });
  });
});

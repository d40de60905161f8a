import { describe, expect, it } from 'vitest';
import { aggregateByTier, reasonGroup, type RequestRecord } from './load-result.js';

const record = (r: Partial<RequestRecord> & Pick<RequestRecord, 'outcome'>): RequestRecord => ({
  index: 0,
  line: 2,
  tier: 'realtime',
  tenant: 'acme',
  scheduledMs: 0,
  sentMs: 0,
  promptTokens: 10,
  maxTokens: 5,
  inputTokens: 0,
  outputTokens: 0,
  ...r,
});
const slo = { realtime: 1_000, internal: 5_000, batch: 600_000 } as const;

describe('aggregateByTier', () => {
  const completed = (ttftMs: number, tier: RequestRecord['tier'] = 'realtime') =>
    record({ outcome: 'completed', tier, ttftMs, e2eMs: ttftMs + 100, inputTokens: 100, outputTokens: 50, costMicros: 50 });
  const records = [
    ...[100, 200, 300, 400, 500, 600, 700, 800, 900, 2_000].map((t) => completed(t)),
    record({ outcome: 'rejected', reason: 'RESOURCE_EXHAUSTED: rate limit' }),
    record({ outcome: 'rejected', reason: 'RESOURCE_EXHAUSTED: rate limit' }),
    record({ outcome: 'failed', reason: 'UNAVAILABLE: gone' }),
    record({ outcome: 'dropped', reason: 'dropped by the load generator' }),
    completed(4_000, 'internal'),
  ];
  const { tiers, all } = aggregateByTier(records, (t) => slo[t], 4);

  it('accounts every request once', () => {
    const rt = tiers.realtime!;
    expect(rt).toMatchObject({ requests: 14, sent: 13, completed: 10, rejected: 2, failed: 1, dropped: 1 });
    expect(rt.sent).toBe(rt.completed + rt.rejected + rt.failed);
    expect(rt.rejectedBy).toEqual({ 'RESOURCE_EXHAUSTED: rate limit': 2 });
    expect(all.requests).toBe(15);
    expect(tiers.batch).toBeUndefined();
  });

  it('takes percentiles of completed requests only', () => {
    expect(tiers.realtime!.ttftMs.p50).toBe(550);
    expect(tiers.realtime!.ttftMs.p99).toBeCloseTo(1_901, 0);
    expect(tiers.realtime!.e2eMs.p50).toBe(650);
  });

  it('counts attainment over every request of the tier and goodput per second of the window', () => {
    // 9 of 14 realtime requests had a first token within 1 s; refused and dropped ones missed.
    expect(tiers.realtime).toMatchObject({ sloTtftMs: 1_000, metSlo: 9, goodputPerS: 9 / 4 });
    expect(tiers.realtime!.sloAttainment).toBeCloseTo(9 / 14);
    expect(tiers.internal).toMatchObject({ metSlo: 1, sloAttainment: 1 });
    expect(all.metSlo).toBe(10);
  });

  it('adds tokens and cost of completed requests, and cost per 1K tokens', () => {
    expect(tiers.realtime).toMatchObject({ inputTokens: 1_000, outputTokens: 500 });
    expect(tiers.realtime!.costUsd).toBeCloseTo(0.0005);
    expect(tiers.realtime!.costPer1kTokensUsd).toBeCloseTo(0.0005 / 1.5);
  });
});

describe('reasonGroup', () => {
  it('groups messages that differ only in numbers', () => {
    expect(reasonGroup('RESOURCE_EXHAUSTED', 'rate limit: retry in 1,200 ms')).toBe(reasonGroup('RESOURCE_EXHAUSTED', 'rate limit: retry in 90 ms'));
    expect(reasonGroup('UNAVAILABLE', '')).toBe('UNAVAILABLE');
  });
});

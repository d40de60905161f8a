import { makeEvent, Outcome, Tier, type UsageRecorded } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, type PriceBook } from '@switchyard/pricing';
import { describe, expect, it } from 'vitest';
import { REPLAY_COLUMNS } from './replay-columns.js';
import { replayRow } from './replay-rows.js';
import { testUsageRecorded } from '@switchyard/testing';

const V2: PriceBook = {
  ...DEFAULT_PRICE_BOOK,
  version: 'v2',
  effectiveFromUnixMs: 2_000,
  models: { 'llama-3.1-8b': { inputPer1k: 400, cachedInputPer1k: 100, outputPer1k: 1_200 } },
};
const bookAt = (ms: number) => (ms >= 2_000 ? V2 : DEFAULT_PRICE_BOOK);

const usage = testUsageRecorded;

const row = (u: UsageRecorded, atMs: number) => {
  const r = replayRow(
    'USAGE',
    {
      subject: 'usage.recorded.acme',
      storedMs: atMs,
      event: makeEvent({ id: 'e1', tenant: 'acme', requestId: 'r1', nowMs: atMs }, { $case: 'usageRecorded', usageRecorded: u }),
    },
    bookAt,
  )!;
  return Object.fromEntries(REPLAY_COLUMNS.USAGE.map((c, i) => [c.name, r[i]]));
};

describe('replay rows', () => {
  it('prices completed usage with the version in force when it was recorded', () => {
    // 1000 input × 200 + 500 output × 600 = 500,000 milli-micros = 500 µ under v1; twice that under v2.
    expect(row(usage(), 1_000)).toMatchObject({ billable: true, cost_micros: 500, price_version: 'v1', tenant: 'acme', tier: 'realtime', gpu_ms: 120 });
    expect(row(usage(), 3_000)).toMatchObject({ cost_micros: 1_000, price_version: 'v2' });
    expect(row(usage({ tier: Tier.TIER_BATCH }), 1_000)).toMatchObject({ cost_micros: 250 });
  });

  it('charges nothing for a failed attempt, but keeps its tokens and GPU time in view', () => {
    expect(row(usage({ outcome: Outcome.OUTCOME_FAILED }), 1_000)).toMatchObject({
      billable: false,
      cost_micros: 0,
      output_tokens: 500,
      gpu_ms: 120,
      outcome: 'failed',
    });
    // Caller-ended work is billed, as metering bills it.
    expect(row(usage({ outcome: Outcome.OUTCOME_CANCELLED }), 1_000)).toMatchObject({ billable: true, cost_micros: 500 });
    expect(row(usage({ outcome: undefined }), 1_000)).toMatchObject({ outcome: 'completed', billable: true });
  });

  it('leaves the cost empty for a model the book does not price', () => {
    expect(row(usage({ model: 'mystery' }), 1_000)).toMatchObject({ cost_micros: null, price_version: 'v1' });
  });

  it('never carries the prompt of an admitted request', () => {
    const event = makeEvent(
      { id: 'e2', tenant: 'acme', requestId: 'r2', nowMs: 1_000 },
      {
        $case: 'requestAdmitted',
        requestAdmitted: {
          request: {
            requestId: 'r2',
            tenant: 'acme',
            tier: Tier.TIER_BATCH,
            model: 'm',
            prompt: 'secret text',
            promptTokens: 7,
            maxTokens: 64,
            feature: 'f',
            seed: 0,
            inbox: '',
            deadlineUnixMs: 0,
            admittedUnixMs: 1_000,
            relayInbox: '',
            stop: [],
            replacedFrom: '',
            prefixHashes: [],
            prefixBlockTokens: 0,
            traceparent: '',
          },
        },
      },
    );
    const r = replayRow('REQUESTS', { subject: 'requests.admitted.batch.acme', storedMs: 1_000, event }, bookAt)!;
    expect(r).toHaveLength(REPLAY_COLUMNS.REQUESTS.length);
    expect(JSON.stringify(r)).not.toContain('secret');
    expect(r).toContain(7);
  });

  it('skips events of another kind on the stream', () => {
    const event = makeEvent(
      { id: 'e3', tenant: 'acme', requestId: '', nowMs: 1 },
      {
        $case: 'budgetState',
        budgetState: { tenant: 'acme', period: '2026-12', periodStartUnixMs: 0, periodEndUnixMs: 0, revision: 1, scopes: [], asOfUnixMs: 0 },
      },
    );
    expect(replayRow('BILLING', { subject: 'billing.budget.acme', storedMs: 1, event }, bookAt)).toBeUndefined();
  });
});

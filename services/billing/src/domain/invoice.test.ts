import { InvoiceStatus, Tier } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { describe, expect, it } from 'vitest';
import { buildInvoice, type InvoiceAggregate } from './invoice.js';
import { parsePeriod } from './period.js';

const agg = (over: Partial<InvoiceAggregate>): InvoiceAggregate => ({
  model: 'llama-3.1-8b',
  tier: 'realtime',
  feature: 'chat',
  priceVersion: 'v1',
  capacityClass: 'on-demand',
  requests: 10,
  inputTokens: 8_000,
  cachedInputTokens: 0,
  outputTokens: 2_000,
  gpuSeconds: 5,
  amountMicros: 2_800,
  gpuCostMicros: 1_000,
  pools: ['p2', 'p1'],
  ...over,
});

describe('buildInvoice', () => {
  const period = parsePeriod('2030-04')!;
  const books = new Map([['v1', DEFAULT_PRICE_BOOK]]);

  it('prices each line per request and per 1K tokens, with its margin over GPU cost and its unit prices', () => {
    const invoice = buildInvoice({
      tenant: 'acme',
      period,
      currency: 'USD',
      books,
      prepaidCreditMicros: 5_000,
      creditAppliedMicros: 1_500,
      reservationFeeMicros: 500,
      nowMs: period.startMs,
      aggregates: [
        agg({}),
        agg({ tier: 'batch', feature: 'etl', requests: 0, amountMicros: 0 }),
        agg({ model: 'llama-3.2-1b', tier: 'batch', amountMicros: 200, gpuCostMicros: 300, pools: ['p3'] }),
      ],
    });
    expect(invoice.status).toBe(InvoiceStatus.INVOICE_STATUS_DRAFT);
    expect(invoice.lines).toHaveLength(2);
    const [big, small] = invoice.lines;
    expect(big).toMatchObject({
      tier: Tier.TIER_REALTIME,
      costPerRequestMicros: 280,
      costPer1kTokensMicros: 280,
      marginMicros: 1_800,
      pools: ['p1', 'p2'],
      inputPer1kMicros: 200,
      outputPer1kMicros: 600,
      discount: 0,
    });
    expect(big!.marginRatio).toBeCloseTo(1_800 / 2_800);
    expect(small).toMatchObject({ tier: Tier.TIER_BATCH, marginMicros: -100, discount: 0.5 });
    expect(invoice).toMatchObject({
      requests: 20,
      totalTokens: 20_000,
      amountMicros: 3_000,
      gpuCostMicros: 1_300,
      marginMicros: 1_700,
      costPerRequestMicros: 150,
      // The credit that paid this month's charges comes off once; the credit still held does not.
      creditAppliedMicros: 1_500,
      reservationFeeMicros: 500,
      prepaidCreditMicros: 5_000,
      amountDueMicros: 3_000 + 500 - 1_500,
    });
  });

  it('is final once the month has ended, and never owes less than nothing', () => {
    const invoice = buildInvoice({
      tenant: 'acme',
      period,
      currency: 'USD',
      books,
      prepaidCreditMicros: 0,
      creditAppliedMicros: 10 ** 9,
      nowMs: period.endMs,
      aggregates: [agg({})],
    });
    expect(invoice).toMatchObject({ status: InvoiceStatus.INVOICE_STATUS_FINAL, amountDueMicros: 0 });
  });

  it('shows reserved usage on GPUs and usage spilled to a provider on their own lines, each costed its own way', () => {
    // acme's reserved pool saturated: 10 requests ran on its GPUs at the reserved rate, 4 spilled
    // to an Azure OpenAI deployment (on demand, priced per token), 2 ran on a shared GPU pool.
    const invoice = buildInvoice({
      tenant: 'acme',
      period,
      currency: 'USD',
      books,
      prepaidCreditMicros: 0,
      nowMs: period.startMs,
      aggregates: [
        agg({ capacityClass: 'reserved', costBasis: 'gpu-hour', amountMicros: 1_120, gpuCostMicros: 1_000, pools: ['acme-h100'] }),
        agg({ requests: 4, gpuSeconds: 0, amountMicros: 1_120, gpuCostMicros: 5_330, costBasis: 'per-token', pools: ['azure-oai'] }),
        agg({ requests: 2, amountMicros: 560, gpuCostMicros: 200, pools: ['shared-h100'] }),
      ],
    });
    expect(invoice.lines.map((l) => [l.capacityClass, l.costBasis, l.pools, l.gpuCostMicros, l.discount])).toEqual([
      ['on-demand', 'gpu-hour', ['shared-h100'], 200, 0],
      ['on-demand', 'per-token', ['azure-oai'], 5_330, 0],
      ['reserved', 'gpu-hour', ['acme-h100'], 1_000, 0.6],
    ]);
    expect(invoice.lines[1]).toMatchObject({ gpuSeconds: 0, marginMicros: 1_120 - 5_330 });
    expect(invoice).toMatchObject({ gpuCostMicros: 1_000 + 5_330 + 200, amountMicros: 1_120 + 1_120 + 560 });
  });
});

import { Tier, type BillableUsage } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_BOOK, priceUsage } from './price-usage.js';

const usage = (over: Partial<BillableUsage> = {}): BillableUsage => ({
  usageId: 'u',
  requestId: 'r',
  tenant: 't',
  feature: 'f',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: 'p',
  usage: { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 500 },
  gpuSeconds: 1,
  recordedUnixMs: 0,
  ...over,
});

describe('priceUsage', () => {
  it('charges input and output per 1K tokens from the price book', () => {
    const m = DEFAULT_PRICE_BOOK.models['llama-3.1-8b']!;
    expect(priceUsage(usage(), DEFAULT_PRICE_BOOK)).toEqual({ amountMicros: m.inputPer1k + m.outputPer1k / 2, priceVersion: 'v1' });
  });

  it('discounts the batch tier and charges cached input at the cached rate', () => {
    const full = priceUsage(usage(), DEFAULT_PRICE_BOOK).amountMicros;
    expect(priceUsage(usage({ tier: Tier.TIER_BATCH }), DEFAULT_PRICE_BOOK).amountMicros).toBe(Math.round(full * 0.5));
    const cached = priceUsage(usage({ usage: { inputTokens: 1000, cachedInputTokens: 1000, outputTokens: 0 } }), DEFAULT_PRICE_BOOK);
    expect(cached.amountMicros).toBe(DEFAULT_PRICE_BOOK.models['llama-3.1-8b']!.cachedInputPer1k);
  });

  it('refuses a model with no price rather than billing zero', () => {
    expect(() => priceUsage(usage({ model: 'mystery' }), DEFAULT_PRICE_BOOK)).toThrow(/no price for model "mystery"/);
  });
});

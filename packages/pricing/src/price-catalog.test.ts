import { Tier, type BillableUsage } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { rejectNewVersion, selectPriceBook } from './price-catalog.js';
import { DEFAULT_PRICE_BOOK, priceReservation, priceUsage, type PriceBook } from './price-usage.js';

const v2: PriceBook = { ...DEFAULT_PRICE_BOOK, version: 'v2', effectiveFromUnixMs: 1_000 };
const usage: BillableUsage = {
  usageId: 'u',
  requestId: 'r',
  tenant: 't',
  feature: 'f',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: 'p',
  usage: { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 1000 },
  gpuSeconds: 1,
  recordedUnixMs: 0,
};

describe('price catalog', () => {
  it('prices by the version in force when the usage was recorded', () => {
    expect(selectPriceBook([v2, DEFAULT_PRICE_BOOK], 999).version).toBe('v1');
    expect(selectPriceBook([v2, DEFAULT_PRICE_BOOK], 1_000).version).toBe('v2');
    expect(() => selectPriceBook([v2], 5)).toThrow(/no price-book version is in force/);
  });

  it('admits a new version only with a new name, sane prices and a future effective date', () => {
    expect(rejectNewVersion([DEFAULT_PRICE_BOOK], v2, 1_000)).toBeUndefined();
    expect(rejectNewVersion([DEFAULT_PRICE_BOOK], v2, 1_001)).toMatch(/never in the past/);
    expect(rejectNewVersion([DEFAULT_PRICE_BOOK, v2], { ...v2, effectiveFromUnixMs: 5_000 }, 0)).toMatch(/exists already/);
    expect(rejectNewVersion([], { ...v2, batchDiscount: 2 }, 0)).toMatch(/batchDiscount/);
    expect(rejectNewVersion([], { ...v2, models: { m: { inputPer1k: 1.5, cachedInputPer1k: 0, outputPer1k: 0 } } }, 0)).toMatch(/m.inputPer1k/);
  });

  it('applies reserved-capacity terms to usage on reserved pools, on top of the batch discount', () => {
    const onDemand = priceUsage(usage, DEFAULT_PRICE_BOOK).amountMicros;
    expect(priceUsage(usage, DEFAULT_PRICE_BOOK, { capacityClass: 'reserved' }).amountMicros).toBe(Math.round(onDemand * 0.4));
    expect(priceUsage({ ...usage, tier: Tier.TIER_BATCH }, DEFAULT_PRICE_BOOK, { capacityClass: 'reserved' }).amountMicros).toBe(
      Math.round(onDemand * 0.5 * 0.4),
    );
    expect(priceReservation('llama-3.1-8b', 10, DEFAULT_PRICE_BOOK)).toBe(45_000_000);
  });
});

import { Tier, type BillableUsage } from '@switchyard/contracts';

/** Prices of one model, in micros per 1,000 tokens. */
export interface ModelPrice {
  readonly inputPer1k: number;
  readonly cachedInputPer1k: number;
  readonly outputPer1k: number;
}

export interface PriceBook {
  readonly version: string;
  readonly models: Readonly<Record<string, ModelPrice>>;
  /** Fraction taken off batch-tier usage, e.g. 0.5. */
  readonly batchDiscount: number;
}

/** The default price book (v1): USD, modelled on public per-token prices. */
export const DEFAULT_PRICE_BOOK: PriceBook = {
  version: 'v1',
  batchDiscount: 0.5,
  models: {
    'llama-3.2-1b': { inputPer1k: 40, cachedInputPer1k: 10, outputPer1k: 80 },
    'llama-3.1-8b': { inputPer1k: 200, cachedInputPer1k: 50, outputPer1k: 600 },
    'llama-3.1-70b-tp4': { inputPer1k: 900, cachedInputPer1k: 225, outputPer1k: 2_700 },
  },
};

export interface PricedUsage {
  readonly amountMicros: number;
  readonly priceVersion: string;
}

/**
 * Prices billable usage in whole micros. Integer arithmetic until one final rounding, so
 * the same usage always costs the same, whatever order it is posted in.
 */
export function priceUsage(usage: BillableUsage, book: PriceBook): PricedUsage {
  const price = book.models[usage.model];
  if (!price) throw new Error(`price book ${book.version} has no price for model "${usage.model}"`);
  const t = usage.usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
  const uncached = Math.max(0, t.inputTokens - t.cachedInputTokens);
  const milli = uncached * price.inputPer1k + t.cachedInputTokens * price.cachedInputPer1k + t.outputTokens * price.outputPer1k;
  const discount = usage.tier === Tier.TIER_BATCH ? 1 - book.batchDiscount : 1;
  return { amountMicros: Math.round((milli * discount) / 1000), priceVersion: book.version };
}

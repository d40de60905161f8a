import { Tier, type BillableUsage } from '@switchyard/contracts';

/** Prices of one model, in micros per 1,000 tokens. */
export interface ModelPrice {
  readonly inputPer1k: number;
  readonly cachedInputPer1k: number;
  readonly outputPer1k: number;
}

/**
 * Reserved-capacity terms of one model: a tenant commits to GPU-hours at `perGpuHourMicros`
 * and its usage that runs on reserved capacity is charged per token with `usageDiscount`
 * taken off (1 = covered entirely by the commitment).
 */
export interface ReservedCapacityPrice {
  readonly perGpuHourMicros: number;
  readonly usageDiscount: number;
}

export interface PriceBook {
  readonly version: string;
  readonly models: Readonly<Record<string, ModelPrice>>;
  /** Fraction taken off batch-tier usage, e.g. 0.5. */
  readonly batchDiscount: number;
  /** When this version starts to apply (Unix ms, by the time usage was recorded). Default 0. */
  readonly effectiveFromUnixMs?: number;
  /** Reserved-capacity terms per model. Default: none (reserved usage is priced on demand). */
  readonly reservedCapacity?: Readonly<Record<string, ReservedCapacityPrice>>;
}

/** The default price book (v1): USD, modelled on public per-token prices. */
export const DEFAULT_PRICE_BOOK: PriceBook = {
  version: 'v1',
  effectiveFromUnixMs: 0,
  batchDiscount: 0.5,
  models: {
    'llama-3.2-1b': { inputPer1k: 40, cachedInputPer1k: 10, outputPer1k: 80 },
    'llama-3.1-8b': { inputPer1k: 200, cachedInputPer1k: 50, outputPer1k: 600 },
    'llama-3.1-70b-tp4': { inputPer1k: 900, cachedInputPer1k: 225, outputPer1k: 2_700 },
  },
  reservedCapacity: {
    'llama-3.2-1b': { perGpuHourMicros: 2_500_000, usageDiscount: 0.6 },
    'llama-3.1-8b': { perGpuHourMicros: 4_500_000, usageDiscount: 0.6 },
    'llama-3.1-70b-tp4': { perGpuHourMicros: 5_000_000, usageDiscount: 0.6 },
  },
};

export interface PricedUsage {
  readonly amountMicros: number;
  readonly priceVersion: string;
}

/** What the usage event does not say but the price depends on. */
export interface PriceContext {
  /** Capacity class of the pool that served the usage; `reserved` applies reserved terms. */
  readonly capacityClass?: string;
}

/** The fraction of the list price charged for usage of this tier on this capacity. */
export function discountFor(usage: Pick<BillableUsage, 'tier' | 'model'>, book: PriceBook, context: PriceContext = {}): number {
  let discount = usage.tier === Tier.TIER_BATCH ? book.batchDiscount : 0;
  const reserved = context.capacityClass === 'reserved' ? book.reservedCapacity?.[usage.model] : undefined;
  if (reserved) discount = 1 - (1 - discount) * (1 - reserved.usageDiscount);
  return discount;
}

/**
 * Prices billable usage in whole micros. Integer arithmetic until one final rounding, so
 * the same usage always costs the same, whatever order it is posted in.
 */
export function priceUsage(usage: BillableUsage, book: PriceBook, context: PriceContext = {}): PricedUsage {
  const price = book.models[usage.model];
  if (!price) throw new Error(`price book ${book.version} has no price for model "${usage.model}"`);
  const t = usage.usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
  const cached = Math.min(t.cachedInputTokens, t.inputTokens);
  const uncached = t.inputTokens - cached;
  const milli = uncached * price.inputPer1k + cached * price.cachedInputPer1k + t.outputTokens * price.outputPer1k;
  const charged = 1 - discountFor(usage, book, context);
  return { amountMicros: Math.round((milli * charged) / 1000), priceVersion: book.version };
}

/** Commitment fee for reserved GPU-hours of a model, in micros. */
export function priceReservation(model: string, gpuHours: number, book: PriceBook): number {
  const terms = book.reservedCapacity?.[model];
  if (!terms) throw new Error(`price book ${book.version} has no reserved-capacity terms for model "${model}"`);
  return Math.round(gpuHours * terms.perGpuHourMicros);
}

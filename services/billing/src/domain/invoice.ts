import { InvoiceStatus, tierFromText, type Invoice, type InvoiceLine } from '@switchyard/contracts';
import { discountFor, type Period, type PriceBook } from '@switchyard/pricing';

/**
 * Usage of a tenant in a period summed per model, tier, feature, price version, capacity
 * class and cost basis (net of reversals).
 */
export interface InvoiceAggregate {
  readonly model: string;
  readonly tier: string;
  readonly feature: string;
  readonly priceVersion: string;
  readonly capacityClass: string;
  /**
   * How the line's GPU cost was computed (`gpu-hour` or `per-token`): an on-demand GPU pool
   * and an on-demand provider pool share a capacity class, and a line mixing the two would
   * have a cost no single price explains. Default `gpu-hour`.
   */
  readonly costBasis?: string;
  readonly requests: number;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  readonly gpuSeconds: number;
  readonly amountMicros: number;
  readonly gpuCostMicros: number;
  readonly pools: readonly string[];
}

export interface InvoiceInput {
  readonly tenant: string;
  readonly period: Period;
  readonly currency: string;
  readonly aggregates: readonly InvoiceAggregate[];
  /** Price-book versions by name, for the unit prices on each line. */
  readonly books: ReadonlyMap<string, PriceBook>;
  /** Prepaid credit the tenant holds now (shown, not taken off: it pays future charges). */
  readonly prepaidCreditMicros: number;
  /** Prepaid credit applied to this month's charges when they were posted. Default 0. */
  readonly creditAppliedMicros?: number;
  /** Reservation fees charged for this month's hours. Default 0. */
  readonly reservationFeeMicros?: number;
  readonly nowMs: number;
}

const per = (amount: number, n: number) => (n > 0 ? amount / n : 0);

function line(a: InvoiceAggregate, books: ReadonlyMap<string, PriceBook>): InvoiceLine {
  const book = books.get(a.priceVersion);
  const unit = book?.models[a.model];
  const tokens = a.inputTokens + a.outputTokens;
  const margin = a.amountMicros - a.gpuCostMicros;
  const tier = tierFromText(a.tier);
  const discount = book ? discountFor({ tier, model: a.model }, book, { capacityClass: a.capacityClass }) : 0;
  // Per 1K tokens in micros, so the saving is in milli-micros until its one rounding.
  const savedPer1k = unit ? unit.inputPer1k - unit.cachedInputPer1k : 0;
  return {
    model: a.model,
    tier,
    feature: a.feature,
    priceVersion: a.priceVersion,
    requests: a.requests,
    inputTokens: a.inputTokens,
    cachedInputTokens: a.cachedInputTokens,
    outputTokens: a.outputTokens,
    gpuSeconds: a.gpuSeconds,
    amountMicros: a.amountMicros,
    gpuCostMicros: a.gpuCostMicros,
    marginMicros: margin,
    marginRatio: per(margin, a.amountMicros),
    costPerRequestMicros: per(a.amountMicros, a.requests),
    costPer1kTokensMicros: per(a.amountMicros * 1000, tokens),
    pools: [...a.pools].sort(),
    inputPer1kMicros: unit?.inputPer1k ?? 0,
    cachedInputPer1kMicros: unit?.cachedInputPer1k ?? 0,
    outputPer1kMicros: unit?.outputPer1k ?? 0,
    discount,
    capacityClass: a.capacityClass,
    costBasis: a.costBasis || 'gpu-hour',
    promptCacheSavingMicros: Math.round((a.cachedInputTokens * savedPer1k * (1 - discount)) / 1000),
  };
}

const lineKey = (l: InvoiceLine) => [l.model, String(l.tier), l.feature, l.priceVersion, l.capacityClass, l.costBasis].join('\u0000');

/**
 * The invoice of one tenant and month: a line per model, tier, feature, price version,
 * capacity class and cost basis, with cost per request, per 1K tokens (input + output) and
 * the margin over what the pools that served it cost (GPU time, or a provider's tokens), the
 * month's reservation fees, and the prepaid credit that paid its charges. Final once the
 * period has ended.
 */
export function buildInvoice(input: InvoiceInput): Invoice {
  const lines = input.aggregates
    .filter((a) => a.requests !== 0 || a.amountMicros !== 0)
    .map((a) => line(a, input.books))
    .sort((a, b) => (lineKey(a) < lineKey(b) ? -1 : 1));
  const sum = (f: (l: InvoiceLine) => number) => lines.reduce((s, l) => s + f(l), 0);
  const amount = sum((l) => l.amountMicros);
  const gpuCost = sum((l) => l.gpuCostMicros);
  const requests = sum((l) => l.requests);
  const tokens = sum((l) => l.inputTokens + l.outputTokens);
  const fees = input.reservationFeeMicros ?? 0;
  const applied = input.creditAppliedMicros ?? 0;
  return {
    tenant: input.tenant,
    period: input.period.period,
    currency: input.currency,
    periodStartUnixMs: input.period.startMs,
    periodEndUnixMs: input.period.endMs,
    status: input.nowMs >= input.period.endMs ? InvoiceStatus.INVOICE_STATUS_FINAL : InvoiceStatus.INVOICE_STATUS_DRAFT,
    lines,
    requests,
    totalTokens: tokens,
    amountMicros: amount,
    gpuCostMicros: gpuCost,
    marginMicros: amount - gpuCost,
    marginRatio: per(amount - gpuCost, amount),
    costPerRequestMicros: per(amount, requests),
    costPer1kTokensMicros: per(amount * 1000, tokens),
    prepaidCreditMicros: Math.max(0, input.prepaidCreditMicros),
    // Credit was drawn when the charges were posted, so each month takes off only what paid its own charges.
    amountDueMicros: Math.max(0, amount + fees - applied),
    generatedUnixMs: input.nowMs,
    creditAppliedMicros: applied,
    reservationFeeMicros: fees,
    promptCacheSavingMicros: sum((l) => l.promptCacheSavingMicros),
  };
}

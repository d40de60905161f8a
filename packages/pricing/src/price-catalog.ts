import type { PriceBook } from './price-usage.js';

/** Every version of the price book, each applying from its effective date on. */
export type PriceCatalog = readonly PriceBook[];

const effective = (b: PriceBook) => b.effectiveFromUnixMs ?? 0;

/** The catalog ordered by effective date, oldest first. */
export function sortCatalog(catalog: PriceCatalog): PriceBook[] {
  return [...catalog].sort((a, b) => effective(a) - effective(b));
}

/**
 * The version in force at `atUnixMs`: the latest whose effective date is not after it.
 * Usage is priced by when it was recorded, so a replay posted a month later still gets
 * the price it was incurred under.
 */
export function selectPriceBook(catalog: PriceCatalog, atUnixMs: number): PriceBook {
  let chosen: PriceBook | undefined;
  for (const book of catalog) {
    if (effective(book) <= atUnixMs && (!chosen || effective(book) > effective(chosen))) chosen = book;
  }
  if (!chosen) throw new Error(`no price-book version is in force at ${new Date(atUnixMs).toISOString()}`);
  return chosen;
}

const VERSION = /^[A-Za-z0-9._-]{1,64}$/;
const isMicros = (n: number) => Number.isSafeInteger(n) && n >= 0;
const isFraction = (n: number) => Number.isFinite(n) && n >= 0 && n <= 1;

/** Problems that make a price book unusable; empty when it is fine. */
export function priceBookProblems(book: PriceBook): string[] {
  const problems: string[] = [];
  if (!VERSION.test(book.version)) problems.push(`version "${book.version}" must be 1-64 of letters, digits, ".", "_", "-"`);
  if (!isFraction(book.batchDiscount)) problems.push('batchDiscount must be between 0 and 1');
  if (book.effectiveFromUnixMs !== undefined && !isMicros(book.effectiveFromUnixMs)) problems.push('effectiveFromUnixMs must be a non-negative integer');
  if (Object.keys(book.models).length === 0) problems.push('the book prices no model');
  for (const [model, p] of Object.entries(book.models)) {
    for (const [k, v] of Object.entries(p)) if (!isMicros(v as number)) problems.push(`${model}.${k} must be whole micros >= 0`);
  }
  for (const [model, r] of Object.entries(book.reservedCapacity ?? {})) {
    if (!isMicros(r.perGpuHourMicros)) problems.push(`reservedCapacity.${model}.perGpuHourMicros must be whole micros >= 0`);
    if (!isFraction(r.usageDiscount)) problems.push(`reservedCapacity.${model}.usageDiscount must be between 0 and 1`);
  }
  return problems;
}

/**
 * Why `book` may not join the catalog at `nowMs`, or undefined when it may. A new version
 * can only take effect from now on: re-pricing the past would make posted transactions
 * disagree with the book that explains them.
 */
export function rejectNewVersion(catalog: PriceCatalog, book: PriceBook, nowMs: number): string | undefined {
  const problems = priceBookProblems(book);
  if (problems.length) return problems.join('; ');
  if (catalog.some((b) => b.version === book.version)) return `price-book version "${book.version}" exists already; versions are immutable`;
  if (effective(book) < nowMs) return 'a new price-book version must take effect now or later, never in the past';
  const latest = catalog.reduce((m, b) => Math.max(m, effective(b)), -1);
  if (effective(book) <= latest) return 'a new price-book version must take effect after the latest one';
  return undefined;
}

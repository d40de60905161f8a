import { Outcome, outcomeName, type BillableUsage } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, priceUsage, selectPriceBook, sortCatalog, type PriceBook } from '@switchyard/pricing';

/** The price-book version in force at a time (billing's catalog, or the default book). */
export type BookAt = (atMs: number) => PriceBook;

/** An outcome's name; absent or unspecified is `completed`, as metering reads usage from before outcomes. */
export function outcomeOf(outcome: Outcome | undefined): string {
  if (outcome === undefined || outcome === Outcome.OUTCOME_UNSPECIFIED) return 'completed';
  try {
    return outcomeName(outcome);
  } catch {
    return 'unknown';
  }
}

/**
 * Whether usage of this outcome bills its tokens. Mirrors metering's rule (a service's code
 * others may not import): completions and caller-ended work (cancelled, expired) are billed; a
 * platform failure bills nothing and its GPU time stays the platform's cost.
 */
export const billsTokens = (outcome: string): boolean => outcome === 'completed' || outcome === 'cancelled' || outcome === 'expired';

/**
 * What billing charges for usage: its billable tokens priced by the version in force when it
 * was recorded, as billing's posting does. The capacity class is left out: a reservation
 * holder's usage on a reserved pool is charged less by billing (reservations live only in the
 * ledger), so such rows show the on-demand price. `null` when the book prices no such model.
 */
export function charge(u: Pick<BillableUsage, 'model' | 'tier' | 'usage'>, atMs: number, billable: boolean, bookAt: BookAt): [number | null, string] {
  if (!billable) return [0, ''];
  const book = bookAt(atMs);
  if (!book.models[u.model]) return [null, book.version];
  // priceUsage reads the model, tier and tokens only; the rest of BillableUsage is not needed.
  const priced = priceUsage(u as BillableUsage, book);
  return [priced.amountMicros, priced.priceVersion];
}

/**
 * The book in force at a time among billing's published versions: the default book where
 * billing has written none, or before its first version, exactly as admission reads them.
 */
export function bookAtOf(books: readonly PriceBook[]): BookAt {
  const catalog = sortCatalog([...books]);
  const first = catalog[0]?.effectiveFromUnixMs ?? 0;
  return (atMs) => (catalog.length && first <= atMs ? selectPriceBook(catalog, atMs) : DEFAULT_PRICE_BOOK);
}

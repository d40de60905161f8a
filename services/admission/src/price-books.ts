import { mirrorBucket, type KV } from '@switchyard/bus';
import { DEFAULT_PRICE_BOOK, priceBookProblems, selectPriceBook, sortCatalog, type PriceBook } from '@switchyard/pricing';

export interface PriceBooks {
  /** The version in force at `atMs`, the same one billing's ledger prices that usage with. */
  bookAt(atMs: number): PriceBook;
  stop(): Promise<void>;
}

/**
 * Mirrors billing's versioned price book from the `pricebook` bucket (billing writes every
 * version there; key = version). Admission reserves and settles with the version in force,
 * so a new version takes effect here when it takes effect in the ledger. Until billing has
 * written any, the built-in default applies.
 */
export async function followPriceBooks(kv: KV, onInvalid: (version: string, problem: unknown) => void): Promise<PriceBooks> {
  const versions = new Map<string, PriceBook>();
  let catalog: PriceBook[] = [];
  const mirror = await mirrorBucket(kv, (version, value) => {
    if (!value) versions.delete(version);
    else {
      try {
        const book = JSON.parse(new TextDecoder().decode(value)) as PriceBook;
        const problems = priceBookProblems(book);
        if (problems.length) throw new Error(problems.join('; '));
        versions.set(version, book);
      } catch (e) {
        onInvalid(version, e);
      }
    }
    catalog = sortCatalog([...versions.values()]);
  });
  return {
    bookAt: (atMs) => (catalog.length && (catalog[0]!.effectiveFromUnixMs ?? 0) <= atMs ? selectPriceBook(catalog, atMs) : DEFAULT_PRICE_BOOK),
    stop: () => mirror.stop(),
  };
}

import { openBucket, type JetStreamManager, type NatsConnection } from '@switchyard/bus';
import { buckets } from '@switchyard/contracts';
import { bookAtOf, type BookAt } from '@switchyard/live-model';
import { DEFAULT_PRICE_BOOK, priceBookProblems, sortCatalog, type PriceBook } from '@switchyard/pricing';

/**
 * Billing's price-book versions as it publishes them in the `pricebook` bucket (key =
 * version, JSON), read once; the default book where billing has written none, or before its
 * first version, exactly as admission reads them. `warnings` names versions that were skipped.
 */
export async function loadBookAt(nc: NatsConnection, jsm: JetStreamManager): Promise<{ bookAt: BookAt; versions: string[]; warnings: string[] }> {
  const warnings: string[] = [];
  // Look before opening: opening creates the bucket, and an analyst's replay creates nothing.
  const exists = await jsm.streams.info(`KV_${buckets.pricebook}`).then(
    () => true,
    () => false,
  );
  const books: PriceBook[] = [];
  if (exists) {
    const kv = await openBucket(nc, buckets.pricebook);
    for await (const version of await kv.keys()) {
      const entry = await kv.get(version);
      if (!entry || entry.operation !== 'PUT') continue;
      try {
        const book = JSON.parse(entry.string()) as PriceBook;
        const problems = priceBookProblems(book);
        if (problems.length) throw new Error(problems.join('; '));
        books.push(book);
      } catch (e) {
        warnings.push(`price-book version ${version} skipped: ${(e as Error).message}`);
      }
    }
  }
  const catalog = sortCatalog(books);
  return {
    bookAt: bookAtOf(catalog),
    versions: catalog.length ? catalog.map((b) => b.version) : [DEFAULT_PRICE_BOOK.version],
    warnings,
  };
}

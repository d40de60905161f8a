import { DomainError } from '@switchyard/contracts';
import { rejectNewVersion, sortCatalog, type PriceBook, type PriceCatalog } from '@switchyard/pricing';
import type { Sql } from 'postgres';

/** How far ahead of its effective date a new version must be written, so every replica has loaded it. */
export const PRICE_VERSION_LEAD_MS = 60_000;

interface VersionRow {
  version: string;
  effective_from: Date;
  book: PriceBook;
}

/** Every price-book version in the ledger database, oldest first. */
export async function loadCatalog(sql: Sql): Promise<PriceBook[]> {
  const rows = await sql<VersionRow[]>`SELECT version, effective_from, book FROM price_book_versions ORDER BY effective_from`;
  return rows.map((r) => ({ ...r.book, version: r.version, effectiveFromUnixMs: r.effective_from.getTime() }));
}

/** Writes the versions a deployment ships with unless they are there; existing ones are never changed. */
export async function seedCatalog(sql: Sql, catalog: PriceCatalog): Promise<void> {
  for (const book of sortCatalog(catalog)) {
    await sql`
      INSERT INTO price_book_versions (version, effective_from, book)
      VALUES (${book.version}, ${new Date(book.effectiveFromUnixMs ?? 0)}, ${sql.json(book as never)})
      ON CONFLICT DO NOTHING`;
  }
}

/** Adds a version that takes effect at least a minute from now; versions are immutable. */
export async function addPriceVersion(sql: Sql, book: PriceBook, nowMs: number): Promise<void> {
  const problem = rejectNewVersion(await loadCatalog(sql), book, nowMs + PRICE_VERSION_LEAD_MS);
  if (problem) throw new DomainError('INVALID_ARGUMENT', problem);
  await sql`INSERT INTO price_book_versions (version, effective_from, book) VALUES (${book.version}, ${new Date(book.effectiveFromUnixMs ?? 0)}, ${sql.json(book as never)})`;
}

export interface CatalogCache {
  /** The catalog; throws a retryable error when it is too old to price with. */
  current(): PriceCatalog;
  /** Versions by name, for explaining transactions. */
  byVersion(): ReadonlyMap<string, PriceBook>;
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Keeps the catalog in memory, reloaded every `refreshMs`. Pricing refuses (retryably) once
 * the copy is older than the lead time of new versions, so no replica ever prices usage with
 * a version it has not heard of yet.
 */
export async function createCatalogCache(
  sql: Sql,
  options: { refreshMs?: number; now?: () => number; onError?: (e: unknown) => void; onLoad?: (catalog: PriceCatalog) => Promise<void> } = {},
): Promise<CatalogCache> {
  const now = options.now ?? Date.now;
  const refreshMs = options.refreshMs ?? 10_000;
  let catalog: PriceBook[] = [];
  let versions = new Map<string, PriceBook>();
  let loadedAt = 0;
  const refresh = async () => {
    const started = now();
    const loaded = await loadCatalog(sql);
    const changed = loaded.length !== catalog.length;
    catalog = loaded;
    versions = new Map(catalog.map((b) => [b.version, b]));
    loadedAt = started;
    if (changed) await options.onLoad?.(catalog);
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch((e) => options.onError?.(e)), refreshMs);
  timer.unref();
  return {
    current() {
      if (now() - loadedAt > PRICE_VERSION_LEAD_MS / 2) {
        throw new DomainError('UNAVAILABLE', 'the price book could not be reloaded lately; usage waits rather than risk a stale price', {
          retryAfterMs: 2_000,
        });
      }
      return catalog;
    },
    byVersion: () => versions,
    refresh,
    stop: () => clearInterval(timer),
  };
}

import { reconcileLedger, type ReconciliationReport } from '@switchyard/billing';
import { jetstream, type NatsConnection } from '@switchyard/bus';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { waitFor } from '@switchyard/testing';
import type { Sql } from 'postgres';

/**
 * Reconciles the ledger of a running test system over [`sinceMs`, now] with the default price
 * book, reading LIFECYCLE as of two minutes ahead (so every request counts as due). With
 * `untilClean`, retries until the report is clean (postings may still be on their way) and
 * returns it, or fails on the deadline; without, returns the first report.
 */
export async function reconcileSystem(
  system: { sql: Sql; nc: NatsConnection },
  sinceMs: number,
  options: { tenant?: string; untilClean?: boolean } = {},
): Promise<ReconciliationReport> {
  const run = () =>
    reconcileLedger(system.sql, {
      startMs: sinceMs,
      endMs: Date.now(),
      books: new Map([[DEFAULT_PRICE_BOOK.version, DEFAULT_PRICE_BOOK]]),
      tenant: options.tenant,
      lifecycle: { js: jetstream(system.nc), nowMs: Date.now() + 120_000 },
    });
  if (!options.untilClean) return run();
  return waitFor('a clean reconcile', async () => {
    const r = await run();
    return r.ok ? r : undefined;
  });
}

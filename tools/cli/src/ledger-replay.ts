import {
  addCredit,
  createLedgerPoster,
  indexReservations,
  loadCatalog,
  loadReservations,
  preparePosting,
  reverseUsage,
  seedCatalog,
  type PoolCost,
  type UsagePosting,
} from '@switchyard/billing';
import type { JetStreamClient } from '@switchyard/bus';
import { decodeEvent, streams } from '@switchyard/contracts';
import { meteredUsage, toBillableFromMetered } from '@switchyard/metering';
import type { Sql } from 'postgres';

/** JetStream's API error code for a stream that does not exist. */
const STREAM_NOT_FOUND = 10059;
/**
 * A usage's recorded time is its envelope's, stamped before the bus stored it: the stream is
 * read from this long before `--since` so usage recorded just inside the window is not missed.
 */
const READ_AHEAD_MS = 5 * 60_000;

export interface ReplayDeps {
  readonly js: JetStreamClient;
  /** The live ledger database: read only, for billing's own inputs. */
  readonly live: Sql;
  /** The scratch database, migrated and empty. */
  readonly scratch: Sql;
  /** Pools as billing ran with them (GPU cost, capacity class, provider). */
  readonly pools: ReadonlyMap<string, PoolCost>;
}

export interface ReplayOptions {
  readonly sinceMs?: number;
  readonly untilMs?: number;
  /** Usage postings per ledger transaction. Default 500. */
  readonly batchSize?: number;
}

export interface ReplayResult {
  /** Usage events read from USAGE in the window. */
  readonly usageEvents: number;
  /** Usage ledger transactions written (a repeated usage id is written once, as metering meters it once). */
  readonly posted: number;
  readonly creditPurchases: number;
  readonly reversals: number;
  /** Events or inputs the rebuild could not post, with why (the first 20), and how many in all. */
  readonly skipped: { readonly count: number; readonly first: readonly string[] };
  /** When the oldest event USAGE still holds was stored; older usage cannot be rebuilt. */
  readonly usageFromMs?: number;
}

interface CreditInput {
  tenant: string;
  amount_micros: string;
  external_id: string;
  posted_at: Date;
}

/**
 * Re-derives the ledger into the scratch database with production's own code. Usage comes from
 * USAGE, through metering's pure steps (`meteredUsage`, `toBillableFromMetered`) and billing's
 * (`preparePosting`, `createLedgerPoster`), in batches, read by an ephemeral ordered consumer.
 * Billing's own inputs are taken from the live database, where they are recorded and not derived:
 * price-book versions and reservations (which price usage), credit purchases (re-posted with
 * `addCredit` at their place in time among the usage, since credit pays only for usage posted
 * after it), and reversals (re-applied with `reverseUsage`).
 */
export async function replayLedger(deps: ReplayDeps, o: ReplayOptions): Promise<ReplayResult> {
  const { live, scratch } = deps;
  const batchSize = o.batchSize ?? 500;
  const catalog = await loadCatalog(live);
  if (!catalog.length) throw new Error('the live database holds no price-book versions: is it a Switchyard ledger?');
  await seedCatalog(scratch, catalog);
  const reservations = indexReservations(await loadReservations(live));
  const inWindow = (ms: number) => (o.sinceMs === undefined || ms >= o.sinceMs) && (o.untilMs === undefined || ms < o.untilMs);

  // Credit purchases are few (one per payment); holding them is cheap, unlike usage.
  const credits = await live<CreditInput[]>`
    SELECT tenant, amount_micros, external_id, posted_at FROM ledger_transactions
     WHERE kind = 'credit_purchase'
       ${o.sinceMs === undefined ? live`` : live`AND posted_at >= ${new Date(o.sinceMs)}`}
       ${o.untilMs === undefined ? live`` : live`AND posted_at < ${new Date(o.untilMs)}`}
     ORDER BY posted_at, id`;
  let nextCredit = 0;
  const skippedFirst: string[] = [];
  let skipped = 0;
  const skip = (why: string) => {
    skipped++;
    if (skippedFirst.length < 20) skippedFirst.push(why);
  };

  const poster = createLedgerPoster(scratch);
  let batch: UsagePosting[] = [];
  let posted = 0;
  const flush = async () => {
    if (!batch.length) return;
    const r = await poster.post(batch);
    posted += r.outcomes.filter((x) => x === 'posted').length;
    batch = [];
  };
  /** Credit bought before `ms` is in the ledger before usage stored at `ms` is posted, as it was live. */
  const creditsUntil = async (ms: number) => {
    while (nextCredit < credits.length && credits[nextCredit]!.posted_at.getTime() <= ms) {
      const c = credits[nextCredit++]!;
      await flush();
      // addCredit names the purchase `credit:<tenant>:<reference>`; the reference is the rest.
      const reference = c.external_id.slice(`credit:${c.tenant}:`.length);
      await addCredit(scratch, { tenant: c.tenant, amountMicros: Number(c.amount_micros), reference });
    }
  };

  const jsm = await deps.js.jetstreamManager();
  const info = await jsm.streams.info(streams.USAGE.name).catch((e: unknown) => {
    if ((e as { code?: unknown }).code === STREAM_NOT_FOUND) throw new Error(`there is no ${streams.USAGE.name} stream on this NATS server`, { cause: e });
    throw e;
  });
  const usageFromMs = info.state.messages ? Date.parse(info.state.first_ts) : undefined;
  // Usage stored after the rebuild began is not yet in the live ledger either: read up to here.
  const lastSeq = info.state.last_seq;
  let usageEvents = 0;
  const consumer = await deps.js.consumers.get(
    streams.USAGE.name,
    o.sinceMs === undefined ? {} : { opt_start_time: new Date(o.sinceMs - READ_AHEAD_MS).toISOString() },
  );
  try {
    if (lastSeq > 0 && (await consumer.info(true)).num_pending > 0) {
      const messages = await consumer.consume({ max_messages: Math.min(batchSize, 1_000) });
      for await (const m of messages) {
        const storedMs = Math.floor(m.info.timestampNanos / 1e6);
        if (o.untilMs !== undefined && storedMs >= o.untilMs + READ_AHEAD_MS) break;
        await creditsUntil(storedMs);
        const event = decodeEvent(m.data);
        const usage = event.payload?.$case === 'usageRecorded' ? event.payload.usageRecorded : undefined;
        if (!usage?.usageId || !usage.tenant) skip(`stream sequence ${m.seq}: not a usage event with a usage id and tenant (metering refuses it too)`);
        else {
          // Metering stamps usage with its envelope's time, else its own clock (here: the bus's).
          const metered = meteredUsage(usage, event.envelope?.timeUnixMs || storedMs);
          if (inWindow(metered.recordedUnixMs)) {
            usageEvents++;
            try {
              batch.push(preparePosting(toBillableFromMetered(metered), catalog, deps.pools, reservations));
            } catch (e) {
              skip(`usage ${usage.usageId}: ${(e as Error).message}`);
            }
            if (batch.length >= batchSize) await flush();
          }
        }
        if (m.info.pending === 0 || m.seq >= lastSeq) break;
      }
    }
  } finally {
    await consumer.delete().catch(() => false);
  }
  await flush();
  await creditsUntil(Number.POSITIVE_INFINITY);

  // Reversals are an operator's decisions recorded only in the ledger: re-applied, not derived.
  const reversals = await live<{ usage_id: string; memo: string | null }[]>`
    SELECT o.usage_id, r.memo FROM ledger_transactions r JOIN ledger_transactions o ON o.id = r.reverses
     WHERE r.kind = 'reversal'
       ${o.sinceMs === undefined ? live`` : live`AND r.recorded_at >= ${new Date(o.sinceMs)}`}
       ${o.untilMs === undefined ? live`` : live`AND r.recorded_at < ${new Date(o.untilMs)}`}
     ORDER BY r.id`;
  let reversed = 0;
  for (const r of reversals) {
    try {
      await reverseUsage(scratch, r.usage_id, r.memo ?? '');
      reversed++;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'NOT_FOUND') throw e;
      skip(`reversal of usage ${r.usage_id}: that usage is not on USAGE`);
    }
  }
  return { usageEvents, posted, creditPurchases: credits.length, reversals: reversed, skipped: { count: skipped, first: skippedFirst }, usageFromMs };
}

import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, jetstream, jetstreamManager, provisionStreams, publishEvent, type NatsConnection } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { makeEvent, streams, subjects } from '@switchyard/contracts';
import { startNats, startPostgres, waitFor, type ProcessServer, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chaosUsage, expectBilledExactlyOnce, feedUsage, startLedgerServices } from '../support/usage-chaos.js';

/**
 * Issue #23, scenario 5: redelivery edges against metering and billing as processes.
 * - Acks delayed past AckWait: the ledger and the metered table are locked for 14 s (metering's
 *   and billing's AckWait is 10 s) while usage flows, so JetStream redelivers messages whose
 *   first handling is still waiting; both handlings then run.
 * - Replays inside JetStream's 2-minute duplicate window (same msgID) and outside it (another
 *   envelope id, as a replay after the window would be), throughout (feedUsage).
 * - A poison message: usage the database refuses for what it holds (a test trigger) fails
 *   alone, not with the usage that shared its transaction, and is parked on
 *   `deadletter.USAGE.metering` with the database's reason at once: it would be refused on
 *   every delivery, so retrying it MaxDeliver times (60 for usage) would only delay the parking.
 *   (Failures that can pass, a database outage, are retried up to MaxDeliver: the Postgres chaos test.)
 */

const POOLS_FILE = fileURLToPath(new URL('../../deploy/pools.yaml', import.meta.url));
const pools = loadPoolsFile(POOLS_FILE);

let nats: TestServer;
let pg: TestServer;
let nc: NatsConnection;
let sql: Sql;
const running: ProcessServer[] = [];

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  nc = await connectBus({ url: nats.url, name: 'chaos-redelivery' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  running.push(...(await startLedgerServices(nats.url, pg.url)));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(running.map((p) => p.stop()));
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

describe('chaos: redelivery edges', () => {
  it('bills once when acks come after AckWait and when usage is replayed inside and outside the duplicate window', async () => {
    const started = Date.now();
    const load = feedUsage(nc, pools, 100, 20_000);
    await sleep(3_000);
    // Hold both tables for longer than AckWait: every handling that reaches them waits.
    const jsm = await jetstreamManager(nc);
    const held = Date.now();
    let redelivered = 0;
    await sql.begin(async (tx) => {
      await tx`LOCK TABLE metered_usage, ledger_transactions IN ACCESS EXCLUSIVE MODE`;
      // JetStream's own count of messages it delivered again because no ack came within AckWait.
      while (Date.now() - held < 14_000) {
        redelivered = Math.max(redelivered, (await jsm.consumers.info(streams.USAGE.name, 'metering')).num_redelivered);
        await sleep(500);
      }
    });
    const heldMs = Date.now() - held;
    expect(redelivered).toBeGreaterThan(0);
    const published = await load;
    const figures = await expectBilledExactlyOnce({ nc, sql, databaseUrl: pg.url, natsUrl: nats.url, published, sinceMs: started, timeoutMs: 60_000 });
    console.log(
      `redelivery: ${published.size} usage records (every 20th published twice, every 50th replayed under a new id), tables locked ${(heldMs / 1000).toFixed(1)} s ` +
        `past a 10 s AckWait, up to ${redelivered} usage messages redelivered to metering meanwhile; ${figures.transactions} ledger transactions, 0 duplicates, 0 lost, reconciliation 0`,
    );
  }, 150_000);

  it('parks a poison usage record on the dead-letter subject with its reason, and bills the usage published with it', async () => {
    await sql.unsafe(`
      CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.usage_id LIKE 'poison-%' THEN RAISE EXCEPTION 'test trigger refuses %', NEW.usage_id; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_poison BEFORE INSERT ON metered_usage FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const publish = (n: number, usageId: string) => {
      const u = { ...chaosUsage(n, pools), usageId, requestId: usageId };
      return publishEvent(
        js,
        subjects.usageRecorded(u.tenant),
        makeEvent({ id: usageId, tenant: u.tenant, requestId: usageId, nowMs: Date.now() }, { $case: 'usageRecorded', usageRecorded: u }),
      );
    };
    // Published together, they meet in one metering transaction, which the poison fails.
    await Promise.all([publish(900_001, 'poison-1'), publish(900_002, 'after-poison-1'), publish(900_003, 'after-poison-2')]);
    // The usage behind the poison is metered while the poison waits for its retries.
    await waitFor('the usage published with the poison is billed', async () => {
      const [r] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE usage_id IN ('after-poison-1', 'after-poison-2')`;
      return Number(r!.n) === 2 ? true : undefined;
    });
    const parked = await waitFor(
      'the poison is parked on deadletter.USAGE.metering',
      async () =>
        (await jsm.streams.getMessage(streams.DEADLETTER.name, { last_by_subj: subjects.deadLetter('USAGE', 'metering') }).catch(() => undefined)) ?? undefined,
      30_000,
    );
    expect(parked.header.get('Sy-Deliveries')).toBe('1');
    expect(parked.header.get('Sy-Reason')).toBe('the database refuses usage poison-1: test trigger refuses poison-1');
    expect(parked.header.get('Sy-Subject')).toMatch(/^usage\.recorded\./);
    const [billed] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE usage_id = 'poison-1'`;
    expect(Number(billed!.n)).toBe(0);
    console.log(`poison: parked after ${parked.header.get('Sy-Deliveries')} deliveries, reason "${parked.header.get('Sy-Reason')}"`);
  }, 60_000);
});

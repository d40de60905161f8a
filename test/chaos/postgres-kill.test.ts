import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, jetstreamManager, provisionStreams, type NatsConnection } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { streams } from '@switchyard/contracts';
import { startNats, startPostgres, waitFor, type ProcessServer, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBilledExactlyOnce, feedUsage, startLedgerServices } from '../support/usage-chaos.js';

/**
 * Issue #23, scenario 4: kill -9 PostgreSQL three times while metering and billing post usage
 * (140 records a second for 16 s, with publish retries and replays), each time bringing it back
 * 1 s later on the same data: 0 unbalanced, 0 lost and 0 duplicate transactions, metered =
 * billed, and reconcile reports 0 differences. Postgres must be our own process to kill: the
 * test starts a private one even where DATABASE_URL names a shared server.
 */

const POOLS_FILE = fileURLToPath(new URL('../../deploy/pools.yaml', import.meta.url));
const LOAD_MS = 16_000;
const PER_SECOND = 140;
const KILLS_AT_MS = [3_000, 7_000, 11_000];

let nats: TestServer;
let pg: TestServer;
let nc: NatsConnection;
let sql: Sql;
const running: ProcessServer[] = [];

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres({}, { ...process.env, DATABASE_URL: undefined })]);
  nc = await connectBus({ url: nats.url, name: 'chaos-postgres' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(running.map((p) => p.stop()));
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

describe('chaos: kill -9 of PostgreSQL while metering and billing post', () => {
  it('loses, duplicates and unbalances nothing, and reconciles to zero', async () => {
    const postgresProcess = pg.process!;
    const [billing, metering] = await startLedgerServices(nats.url, pg.url);
    running.push(billing, metering);

    const started = Date.now();
    const load = feedUsage(nc, loadPoolsFile(POOLS_FILE), PER_SECOND, LOAD_MS);
    const outages: number[] = [];
    for (const at of KILLS_AT_MS) {
      await sleep(Math.max(0, started + at - Date.now()));
      const down = Date.now();
      await postgresProcess.kill();
      await sleep(1_000);
      // Backends of the killed postmaster can hold its shared memory for a moment: try again until it starts.
      await waitFor('postgres restarted on its data', () => postgresProcess.restart().then(() => true), 20_000);
      await waitFor('postgres answers', () => sql`SELECT 1`.then(() => true), 20_000);
      outages.push(Date.now() - down);
    }
    const published = await load;
    expect(outages).toHaveLength(3);

    const figures = await expectBilledExactlyOnce({ nc, sql, databaseUrl: pg.url, natsUrl: nats.url, published, sinceMs: started, timeoutMs: 60_000 });
    // Neither crashed on the way (postgres.js used to throw from a timer when its socket closed
    // under a buffered write) and both still stop cleanly when told to.
    expect(await Promise.all([billing.stop(), metering.stop()])).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    console.log(
      `postgres chaos: ${published.size} completed requests over ${LOAD_MS / 1000} s, postgres killed 3x (down ${outages.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s); ` +
        `${figures.transactions} ledger transactions, 0 duplicates, 0 lost, 0 unbalanced, metered ${figures.metered}, reconciliation difference 0`,
    );
  }, 150_000);
});

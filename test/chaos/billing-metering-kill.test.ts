import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, jetstreamManager, provisionStreams, type NatsConnection } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { streams } from '@switchyard/contracts';
import { startNats, startPostgres, type ProcessServer, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBilledExactlyOnce, feedUsage, startLedgerServices } from '../support/usage-chaos.js';

/**
 * kill -9 billing 5 times and metering 3 times while usage flows for 60 s, then prove
 * ledger transactions == completed requests, no duplicates, none lost, reconciliation 0.
 * Usage is fed straight into USAGE (what workers publish for each completed request, with
 * publish retries and replays: see feedUsage), so the count of completed requests is exact
 * and the run does not depend on GPU timing.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POOLS_FILE = `${ROOT}deploy/pools.yaml`;
const LOAD_MS = 60_000;
const PER_SECOND = 150;

let nats: TestServer;
let pg: TestServer;
let nc: NatsConnection;
let sql: Sql;
const running: ProcessServer[] = [];

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  nc = await connectBus({ url: nats.url, name: 'chaos-load' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(running.map((p) => p.stop()));
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

describe('chaos: kill -9 billing and metering during a 60 s load run', () => {
  it('bills every completed request exactly once and reconciles to zero', async () => {
    const [billing, metering] = await startLedgerServices(nats.url, pg.url);
    running.push(billing, metering);

    const started = Date.now();
    const load = feedUsage(nc, loadPoolsFile(POOLS_FILE), PER_SECOND, LOAD_MS);

    const kills = { billing: 0, metering: 0 };
    const chaos = async (proc: ProcessServer, name: keyof typeof kills, at: readonly number[]) => {
      for (const t of at) {
        await sleep(Math.max(0, started + t - Date.now()));
        await proc.kill();
        kills[name]++;
        await sleep(250);
        await proc.restart();
      }
    };
    await Promise.all([load, chaos(billing, 'billing', [4_000, 14_000, 24_000, 34_000, 44_000]), chaos(metering, 'metering', [9_000, 26_000, 40_000])]);
    const loadMs = Date.now() - started;
    expect(kills).toEqual({ billing: 5, metering: 3 });

    const published = await load;
    const figures = await expectBilledExactlyOnce({ nc, sql, databaseUrl: pg.url, natsUrl: nats.url, published, sinceMs: started });
    console.log(
      `billing/metering chaos: ${published.size} completed requests over ${(loadMs / 1000).toFixed(0)} s, billing killed ${kills.billing}x, metering ${kills.metering}x; ${figures.transactions} ledger transactions, 0 duplicates, 0 lost, 0 unbalanced, reconciliation difference 0`,
    );
  }, 150_000);
});

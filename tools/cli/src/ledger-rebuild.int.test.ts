import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createKeyring } from '@switchyard/auth';
import { addCredit, createBilling, type Billing } from '@switchyard/billing';
import { connectBus, jetstream, jetstreamManager, provisionStreams, publishEvent, type NatsConnection } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { makeEvent, Outcome, streams, subjects, Tier, type UsageRecorded } from '@switchyard/contracts';
import { createMetering, type Metering } from '@switchyard/metering';
import { createLogger } from '@switchyard/telemetry';
import { startNats, startPostgres, waitFor, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildLedger } from './ledger-rebuild.js';
import { REPO_ROOT } from './stack.js';

// Issue #19: the ledger re-derived from USAGE and billing's inputs must equal the live one,
// and a transaction removed from the live ledger by hand must be the one difference.

let nats: TestServer;
let pg: TestServer;
let nc: NatsConnection;
let live: Sql;
let admin: Sql;
let metering: Metering;
let billing: Billing;
let liveUrl: string;

const POOLS_FILE = join(REPO_ROOT, 'deploy', 'pools.yaml');
const TENANTS = ['acme', 'globex', 'initech'] as const;
const USAGES = 12;
const STARTED = Date.now();
const BIN = new URL('../bin/switchyard.js', import.meta.url).pathname;
const logger = createLogger({ service: 'ledger-rebuild-test', level: 'silent' });

/** Another database on the test server, by URL. */
async function newDatabase(name: string): Promise<string> {
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(pg.url);
  url.pathname = `/${name}`;
  return url.toString();
}

const usage = (i: number): UsageRecorded => ({
  usageId: `u-${String(i).padStart(3, '0')}`,
  requestId: `r-${i}`,
  tenant: TENANTS[i % TENANTS.length]!,
  feature: i % 2 ? 'search' : '',
  model: i % 4 === 3 ? 'llama-3.2-1b' : 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: i % 4 === 3 ? 'aws-euwest1-h100-1b' : 'azure-eastus-h100-8b',
  workerId: 'w-1',
  usage: { inputTokens: 100 + i, cachedInputTokens: i, outputTokens: 50 + 3 * i },
  gpuMs: 40 + i,
  queueMs: 1,
  ttftMs: 20,
  totalMs: 60,
  // One failed attempt: GPU time stays, tokens are not billed.
  outcome: i === 5 ? Outcome.OUTCOME_FAILED : Outcome.OUTCOME_COMPLETED,
});

const publishUsage = (u: UsageRecorded, envelopeId: string) =>
  publishEvent(
    jetstream(nc),
    subjects.usageRecorded(u.tenant),
    makeEvent({ id: envelopeId, tenant: u.tenant, requestId: u.requestId, nowMs: Date.now() }, { $case: 'usageRecorded', usageRecorded: u }),
  );

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  nc = await connectBus({ url: nats.url, name: 'ledger-rebuild-test' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  const liveName = `live_${Math.random().toString(36).slice(2, 10)}`;
  admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  liveUrl = await newDatabase(liveName);
  live = postgres(liveUrl, { max: 8, onnotice: () => {} });

  // A run: the real metering and billing services consume what workers publish.
  metering = createMetering({ nc, js: jetstream(nc), sql: live, logger, serviceMetrics: false });
  billing = createBilling({
    js: jetstream(nc),
    sql: live,
    logger,
    listen: '127.0.0.1:0',
    reconcileEveryMs: 0,
    keyring: createKeyring([]),
    pools: loadPoolsFile(POOLS_FILE),
  });
  await metering.start();
  await billing.start();
  // Prepaid credit bought before the usage: part of acme's charges is paid from it.
  await addCredit(live, { tenant: 'acme', amountMicros: 1_500, reference: 'po-1' });
  for (let i = 0; i < USAGES; i++) await publishUsage(usage(i), `e-${i}`);
  // A worker's redelivery of a usage, as another event: metered and billed once.
  await publishUsage(usage(4), 'e-4-again');
  await waitFor(
    'every usage in the live ledger',
    async () => {
      const [row] = await live<{ n: number }[]>`SELECT count(*)::int AS n FROM ledger_transactions WHERE kind = 'usage'`;
      return row!.n === USAGES || undefined;
    },
    30_000,
  );
  await metering.stop();
  await billing.stop();
}, 120_000);

afterAll(async () => {
  await metering?.stop();
  await billing?.stop();
  await nc?.close();
  await live?.end();
  await admin?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

const rebuild = (into: string, force = false) => rebuildLedger({ into, force, databaseUrl: liveUrl, natsUrl: nats.url, pools: POOLS_FILE }, {});

describe('switchyard ledger rebuild', () => {
  it('after a run rebuilds the same ledger: 0 differences', async () => {
    const into = await newDatabase(`rebuild_${Math.random().toString(36).slice(2, 10)}`);
    const report = await rebuild(into);
    expect(report.diff.differences).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.replay).toMatchObject({ usageEvents: USAGES + 1, posted: USAGES, creditPurchases: 1, skipped: { count: 0 } });
    expect(report.diff.kinds.usage).toEqual({ live: USAGES, rebuilt: USAGES, same: USAGES });
    expect(report.diff.kinds.credit_purchase).toEqual({ live: 1, rebuilt: 1, same: 1 });
    // The credit was applied to acme's charges in both, and GPU cost accrued per pool.
    expect(report.diff.kinds.credit_applied).toMatchObject({ same: 1 });
    expect(report.diff.kinds.gpu_cost).toMatchObject({ live: 2, same: 2 });
    expect(report.notes.join('\n')).toMatch(/gpu_idle not compared \(0 in live\)/);
  });

  it('names exactly the one transaction deleted from the live ledger by hand', async () => {
    const [victim] = await live<{ id: string; usage_id: string; tenant: string }[]>`
      SELECT id, usage_id, tenant FROM ledger_transactions WHERE kind = 'usage' AND tenant = 'globex' ORDER BY usage_id LIMIT 1`;
    await live.begin(async (tx) => {
      await tx`ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only`;
      await tx`ALTER TABLE ledger_transactions DISABLE TRIGGER ledger_transactions_append_only`;
      await tx`DELETE FROM ledger_entries WHERE transaction_id = ${victim!.id}`;
      await tx`DELETE FROM ledger_transactions WHERE id = ${victim!.id}`;
      await tx`ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only`;
      await tx`ALTER TABLE ledger_transactions ENABLE TRIGGER ledger_transactions_append_only`;
    });
    const into = await newDatabase(`rebuild_${Math.random().toString(36).slice(2, 10)}`);
    const report = await rebuild(into);
    expect(report.diff.differences).toEqual([{ type: 'missing_in_live', key: `usage:${victim!.usage_id}`, kind: 'usage', tenant: 'globex' }]);
    expect(report.ok).toBe(false);
  });

  it('names a transaction whose quantities were changed by hand, and what changed', async () => {
    const [victim] = await live<{ id: string; usage_id: string; output_tokens: number }[]>`
      SELECT id, usage_id, output_tokens FROM ledger_transactions WHERE kind = 'usage' AND tenant = 'initech' ORDER BY usage_id LIMIT 1`;
    await live.begin(async (tx) => {
      await tx`ALTER TABLE ledger_transactions DISABLE TRIGGER ledger_transactions_append_only`;
      await tx`UPDATE ledger_transactions SET output_tokens = output_tokens + 1 WHERE id = ${victim!.id}`;
      await tx`ALTER TABLE ledger_transactions ENABLE TRIGGER ledger_transactions_append_only`;
    });
    const report = await rebuild(await newDatabase(`rebuild_${Math.random().toString(36).slice(2, 10)}`));
    expect(report.diff.differences).toContainEqual({
      type: 'different',
      key: `usage:${victim!.usage_id}`,
      kind: 'usage',
      tenant: 'initech',
      changes: [{ field: 'output_tokens', live: victim!.output_tokens + 1, rebuilt: victim!.output_tokens }],
    });
    expect(report.diff.differences).toHaveLength(2);
  });

  it('over a window compares usage recorded in it, and leaves the batch-named kinds out, saying so', async () => {
    const report = await rebuildLedger(
      {
        into: await newDatabase(`rebuild_${Math.random().toString(36).slice(2, 10)}`),
        sinceMs: STARTED - 60_000,
        untilMs: Date.now() + 60_000,
        databaseUrl: liveUrl,
        natsUrl: nats.url,
        pools: POOLS_FILE,
      },
      {},
    );
    expect(report.diff.kinds.usage).toEqual({ live: USAGES - 1, rebuilt: USAGES, same: USAGES - 2 });
    expect(report.diff.kinds.gpu_cost).toBeUndefined();
    expect(report.notes.join('\n')).toContain('gpu_cost and credit_applied are not compared over a window');
    const later = await rebuildLedger(
      {
        into: await newDatabase(`rebuild_${Math.random().toString(36).slice(2, 10)}`),
        sinceMs: Date.now() + 3_600_000,
        databaseUrl: liveUrl,
        natsUrl: nats.url,
        pools: POOLS_FILE,
      },
      {},
    );
    expect(later).toMatchObject({ ok: true, replay: { usageEvents: 0 } });
  });

  it('as a command prints the table and each difference, and exits 1', async () => {
    const into = await newDatabase(`rebuild_${Math.random().toString(36).slice(2, 10)}`);
    const args = ['ledger', 'rebuild', '--into', into, '--database-url', liveUrl, '--nats-url', nats.url, '--pools', POOLS_FILE];
    const r = await promisify(execFile)(process.execPath, [BIN, ...args]).catch((e: { code: number; stdout: string }) => e);
    expect(r).toMatchObject({ code: 1 });
    expect(r.stdout).toMatch(/usage\s+11\s+12\s+10\s+2/);
    expect(r.stdout).toMatch(/missing in live {5}usage:u-\d+ \(globex\)/);
    expect(r.stdout).toMatch(/2 difference\(s\)$/m);
    const json = await promisify(execFile)(process.execPath, [BIN, ...args, '--force', '--json']).catch((e: { stdout: string }) => e);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      diff: { differences: expect.arrayContaining([expect.objectContaining({ type: 'missing_in_live' })]) },
    });
  });

  it('refuses the live database as the scratch one, however its URL is spelled', async () => {
    await expect(rebuild(liveUrl)).rejects.toThrow(/--into names the live ledger database/);
    await expect(rebuild(`${liveUrl}?application_name=rebuild`)).rejects.toThrow(/--into names the live ledger database/);
    const [row] = await live<{ n: number }[]>`SELECT count(*)::int AS n FROM ledger_transactions`;
    expect(row!.n).toBeGreaterThan(0);
  });

  it('refuses a scratch database that holds tables unless forced, then wipes and rebuilds it', async () => {
    const into = await newDatabase(`rebuild_${Math.random().toString(36).slice(2, 10)}`);
    const other = postgres(into, { max: 1, onnotice: () => {} });
    try {
      await other`CREATE TABLE keep_me (id int)`;
      await expect(rebuild(into)).rejects.toThrow(/scratch database is not empty \(1 tables\): pass --force/);
      await expect(other`SELECT count(*) FROM keep_me`).resolves.toHaveLength(1);
      const report = await rebuild(into, true);
      expect(report.diff.kinds.usage).toMatchObject({ rebuilt: USAGES });
      await expect(other`SELECT count(*) FROM keep_me`).rejects.toThrow(/does not exist/);
    } finally {
      await other.end();
    }
  });
});

import { randomUUID } from 'node:crypto';
import { createLedgerPoster, formatReport, migrate, type PoolCost, preparePosting, reconcileLedger } from '@switchyard/billing';
import { connectBus, jetstream, provisionStreams, publishTerminal, terminalOf, type JetStreamClient, type NatsConnection } from '@switchyard/bus';
import { Outcome, Tier, streams, type BillableUsage } from '@switchyard/contracts';
import { migrateMetering, recordUsage, toBillableFromMetered, toMetered } from '@switchyard/metering';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { startNats, startPostgres, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue #15: a request completed while metering was down sat unmetered, and reconcile said OK,
// because it compared metered usage with the ledger only, never completions with metering.

let nats: TestServer;
let pg: TestServer;
let nc: NatsConnection;
let js: JetStreamClient;
let sql: Sql;

const BOOKS = new Map([[DEFAULT_PRICE_BOOK.version, DEFAULT_PRICE_BOOK]]);
const POOLS = new Map<string, PoolCost>([['p-a', { provider: 'aws', capacityClass: 'on-demand', pricePerGpuHour: 4.1 }]]);
const tenant = `acme${randomUUID().slice(0, 8)}`;
const other = `beta${randomUUID().slice(0, 8)}`;
const id = (name: string) => `${name}-${tenant}`;

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  nc = await connectBus({ url: nats.url, name: 'reconcile-lifecycle-test' });
  js = jetstream(nc);
  await provisionStreams(await js.jetstreamManager(), Object.values(streams));
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  await migrate(sql);
  await migrateMetering(sql);

  // "metered": completed, metered and billed the way the services do it.
  const usage: BillableUsage = {
    usageId: `usage-${id('metered')}`,
    outcome: Outcome.OUTCOME_COMPLETED,
    requestId: id('metered'),
    tenant,
    feature: '',
    model: 'llama-3.2-1b',
    tier: Tier.TIER_REALTIME,
    pool: 'p-a',
    usage: { inputTokens: 12, cachedInputTokens: 0, outputTokens: 8 },
    gpuSeconds: 0.02,
    recordedUnixMs: Date.now(),
  };
  const { stored } = await recordUsage(sql, [toMetered(usage, 5)]);
  await createLedgerPoster(sql).post([preparePosting(toBillableFromMetered(stored.get(usage.usageId)!), [DEFAULT_PRICE_BOOK], POOLS)]);
  const end = (requestId: string, outcome: Outcome, t = tenant) =>
    publishTerminal(js, terminalOf({ requestId, tenant: t, outcome, reason: '', pool: 'p-a' }), Date.now());
  await end(id('metered'), Outcome.OUTCOME_COMPLETED);
  // "lost": completed, but its usage never reached metering.
  await end(id('lost'), Outcome.OUTCOME_COMPLETED);
  // A failure bills nothing and need not be metered; the check is about completions only.
  await end(id('failed'), Outcome.OUTCOME_FAILED);
  await end(id('lost-elsewhere'), Outcome.OUTCOME_COMPLETED, other);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

const window = () => ({ startMs: Date.now() - 60_000, endMs: Date.now(), books: BOOKS });
/** As if checked two minutes from now: every completion above is past the grace. */
const later = () => Date.now() + 120_000;

describe('reconcile: LIFECYCLE completions against metered usage', () => {
  it('reports a completed request without metered usage, and not one with it', async () => {
    const report = await reconcileLedger(sql, { ...window(), tenant, lifecycle: { js, nowMs: later() } });
    expect(report.completions).toMatchObject({ checked: 2, recent: 0 });
    expect(report.completions!.unmetered).toEqual([{ requestId: id('lost'), tenant, completedMs: expect.any(Number) }]);
    expect(Math.abs(report.completions!.unmetered[0]!.completedMs - Date.now())).toBeLessThan(60_000);
    // The books themselves agree: the missing usage is all that is wrong.
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(false);
    expect(formatReport(report)).toContain(`request ${id('lost')} (${tenant}) completed `);
    expect(formatReport(report)).not.toContain(id('metered'));
  });

  it('checks every tenant unless told one', async () => {
    const report = await reconcileLedger(sql, { ...window(), lifecycle: { js, nowMs: later() } });
    expect(report.completions!.unmetered.map((c) => c.requestId)).toEqual([id('lost'), id('lost-elsewhere')]);
  });

  it('leaves completions of the last minute unchecked, and says so', async () => {
    const report = await reconcileLedger(sql, { ...window(), tenant, lifecycle: { js } });
    expect(report.completions).toEqual({ checked: 0, recent: 2, graceMs: 60_000, unmetered: [] });
    expect(report.ok).toBe(true);
    expect(formatReport(report)).toContain('2 completed in the last 60 s not checked (metering lags)');
  });

  it('reads nothing before the window and leaves no consumer behind', async () => {
    const nextHour = Date.now() + 3_600_000;
    const report = await reconcileLedger(sql, { startMs: nextHour, endMs: nextHour + 60_000, books: BOOKS, lifecycle: { js, nowMs: nextHour + 7_200_000 } });
    expect(report.completions).toEqual({ checked: 0, recent: 0, graceMs: 60_000, unmetered: [] });
    const jsm = await js.jetstreamManager();
    expect(await jsm.consumers.list(streams.LIFECYCLE.name).next()).toEqual([]);
  });

  it('refuses to vouch for completions on a NATS server without LIFECYCLE', async () => {
    const bare = await startNats({}, {});
    const bareNc = await connectBus({ url: bare.url, name: 'reconcile-lifecycle-test-bare' });
    try {
      await expect(reconcileLedger(sql, { ...window(), lifecycle: { js: jetstream(bareNc) } })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    } finally {
      await bareNc.close();
      await bare.dispose();
    }
  });
});

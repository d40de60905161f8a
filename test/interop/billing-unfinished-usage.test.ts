import { randomUUID } from 'node:crypto';
import { accounts, createLedgerPoster, loadInvoice, migrate, type PoolCost, preparePosting, reconcileLedger } from '@switchyard/billing';
import { connectBus, jetstream, provisionStreams, publishTerminal, terminalOf, type JetStreamClient, type NatsConnection } from '@switchyard/bus';
import { Outcome, Tier, streams, type UsageRecorded } from '@switchyard/contracts';
import { meteredUsage, migrateMetering, recordUsage, toBillableFromMetered } from '@switchyard/metering';
import { DEFAULT_PRICE_BOOK, periodOf, priceUsage } from '@switchyard/pricing';
import { startNats, startPostgres, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue #17: unfinished work is accounted. A caller's cancel or deadline bills what was streamed;
// a platform failure bills the tenant nothing, and its GPU time is booked as platform cost.

let nats: TestServer;
let pg: TestServer;
let nc: NatsConnection;
let js: JetStreamClient;
let sql: Sql;

const BOOKS = new Map([[DEFAULT_PRICE_BOOK.version, DEFAULT_PRICE_BOOK]]);
const POOL = `p-${randomUUID().slice(0, 8)}`;
const POOLS = new Map<string, PoolCost>([[POOL, { provider: 'aws', capacityClass: 'on-demand', pricePerGpuHour: 3.6 }]]);
const tenant = `acme${randomUUID().slice(0, 8)}`;
const other = `beta${randomUUID().slice(0, 8)}`;
const NOW = Date.now();

/** A usage event as a worker records it: what the attempt read, streamed and spent on the GPU. */
const attempt = (usageId: string, requestId: string, outcome: Outcome, tokens: [number, number], gpuMs: number, t = tenant): UsageRecorded => ({
  usageId,
  requestId,
  tenant: t,
  feature: 'chat',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: POOL,
  workerId: 'w0',
  usage: { inputTokens: tokens[0], cachedInputTokens: 0, outputTokens: tokens[1] },
  gpuMs,
  queueMs: 1,
  ttftMs: 2,
  totalMs: 3,
  outcome,
});

const usages = [
  // "retried": crashed on one worker after 40 tokens, then completed on another.
  attempt(`usage-retried-failed-${POOL}-w0-1`, 'retried', Outcome.OUTCOME_FAILED, [500, 40], 3_000),
  attempt('usage-retried', 'retried', Outcome.OUTCOME_COMPLETED, [500, 200], 9_000),
  // "cancelled": the caller left after 12 tokens; "expired": its deadline passed after 30.
  attempt(`usage-cancelled-cancelled-${POOL}-w0-1`, 'cancelled', Outcome.OUTCOME_CANCELLED, [100, 12], 400),
  attempt(`usage-expired-expired-${POOL}-w0-1`, 'expired', Outcome.OUTCOME_EXPIRED, [80, 30], 700),
  // "cut": a stream cut by a fault, the request failed for good.
  attempt(`usage-cut-failed-${POOL}-w0-1`, 'cut', Outcome.OUTCOME_FAILED, [60, 10], 250),
  // Another tenant's request that completed, but only its crashed attempt was ever metered.
  attempt(`usage-lost-failed-${POOL}-w0-1`, 'lost', Outcome.OUTCOME_FAILED, [60, 5], 100, other),
];

/** Metering then billing, as the services run them. */
async function meterAndBill(list: readonly UsageRecorded[]) {
  const { stored } = await recordUsage(
    sql,
    list.map((u) => meteredUsage(u, NOW)),
  );
  const billable = list.map((u) => toBillableFromMetered(stored.get(u.usageId)!));
  return createLedgerPoster(sql).post(billable.map((b) => preparePosting(b, [DEFAULT_PRICE_BOOK], POOLS)));
}

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  nc = await connectBus({ url: nats.url, name: 'unfinished-usage-test' });
  js = jetstream(nc);
  await provisionStreams(await js.jetstreamManager(), Object.values(streams));
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  await migrate(sql);
  await migrateMetering(sql);
  const end = (requestId: string, outcome: Outcome, t = tenant) =>
    publishTerminal(js, terminalOf({ requestId, tenant: t, outcome, reason: '', pool: POOL, tier: Tier.TIER_REALTIME, model: 'llama-3.1-8b' }), Date.now());
  await end('retried', Outcome.OUTCOME_COMPLETED);
  await end('cancelled', Outcome.OUTCOME_CANCELLED);
  await end('expired', Outcome.OUTCOME_EXPIRED);
  await end('cut', Outcome.OUTCOME_FAILED);
  await end('lost', Outcome.OUTCOME_COMPLETED, other);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

describe('unfinished work in the ledger', () => {
  it('bills cancels and deadlines what was streamed, failures nothing, books every GPU-second once, and reconciles', async () => {
    const first = await meterAndBill(usages);
    expect(first.outcomes).toEqual(usages.map(() => 'posted'));
    // Redelivered and replayed: nothing changes.
    expect((await meterAndBill([...usages].reverse())).outcomes).toEqual(usages.map(() => 'duplicate'));

    const rows = await sql<{ usage_id: string; amount_micros: string; input_tokens: number; output_tokens: number; gpu_cost_micros: string }[]>`
      SELECT usage_id, amount_micros, input_tokens, output_tokens, gpu_cost_micros FROM ledger_transactions
       WHERE kind = 'usage' AND usage_id = ANY(${sql.array(usages.map((u) => u.usageId))}::text[]) ORDER BY usage_id`;
    expect(rows).toHaveLength(usages.length);
    const byId = new Map(rows.map((r) => [r.usage_id, r]));
    for (const u of usages) {
      const r = byId.get(u.usageId)!;
      const failed = u.outcome === Outcome.OUTCOME_FAILED;
      expect([r.input_tokens, r.output_tokens]).toEqual(failed ? [0, 0] : [u.usage!.inputTokens, u.usage!.outputTokens]);
      if (failed) expect(Number(r.amount_micros)).toBe(0);
      else expect(Number(r.amount_micros)).toBeGreaterThan(0);
      // GPU time at 3.60 per GPU-hour: 1 micro per ms.
      expect(Number(r.gpu_cost_micros)).toBe(u.gpuMs);
    }

    // The tenant owes exactly its completion, its cancel's 12 tokens and its expiry's 30 tokens.
    const price = (u: UsageRecorded) => priceUsage({ ...toBillableFromMetered(meteredUsage(u, NOW)) }, DEFAULT_PRICE_BOOK).amountMicros;
    const owed = usages.filter((u) => u.tenant === tenant && u.outcome !== Outcome.OUTCOME_FAILED).reduce((s, u) => s + price(u), 0);
    const [receivable] = await sql<{ b: string }[]>`SELECT debit_micros - credit_micros AS b FROM accounts WHERE id = ${accounts.receivable(tenant)}`;
    expect(Number(receivable!.b)).toBe(owed);
    const [otherReceivable] = await sql<{ b: string }[]>`SELECT debit_micros - credit_micros AS b FROM accounts WHERE id = ${accounts.receivable(other)}`;
    expect(Number(otherReceivable!.b)).toBe(0);
    // Every GPU-second, failed attempts' included, is the pool's cost, once.
    const [cost] = await sql<{ b: string }[]>`SELECT debit_micros - credit_micros AS b FROM accounts WHERE id = ${accounts.gpuCost(POOL)}`;
    expect(Number(cost!.b)).toBe(usages.reduce((s, u) => s + u.gpuMs, 0));

    // The invoice counts the requests the tenant was billed tokens for: the crashed attempts cost
    // the platform GPU time (in the line's cost) but are not requests that dilute the cost per request.
    const invoice = await loadInvoice(sql, { tenant, period: periodOf(NOW), books: BOOKS, currency: 'USD', nowMs: NOW });
    expect(invoice.lines.reduce((n, l) => n + l.requests, 0)).toBe(3);
    expect(invoice.amountMicros).toBe(owed);
    expect(invoice.gpuCostMicros).toBe(usages.filter((u) => u.tenant === tenant).reduce((s, u) => s + u.gpuMs, 0));

    // Metering and the ledger agree, and every completion of the tenant has its completion's usage.
    const window = { startMs: NOW - 60_000, endMs: NOW + 1, books: BOOKS };
    const later = Date.now() + 120_000;
    const mine = await reconcileLedger(sql, { ...window, tenant, lifecycle: { js, nowMs: later } });
    expect(mine.differences).toEqual([]);
    expect(mine.gpuCost).toEqual([]);
    expect(mine.completions).toMatchObject({ checked: 1, unmetered: [] });
    expect(mine.ok).toBe(true);
    // A crashed attempt's GPU record does not pass for the completion's usage.
    const all = await reconcileLedger(sql, { ...window, lifecycle: { js, nowMs: later } });
    expect(all.differences).toEqual([]);
    expect(all.completions!.unmetered.map((c) => c.requestId)).toEqual(['lost']);
  });
});

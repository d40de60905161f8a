import { accounts, addCredit, createLedgerPoster, indexReservations, migrate, type PoolCost, preparePosting, reconcileLedger } from '@switchyard/billing';
import { Outcome, Tier, type BillableUsage } from '@switchyard/contracts';
import { migrateMetering, recordUsage, toBillableFromMetered, toMetered } from '@switchyard/metering';
import { DEFAULT_PRICE_BOOK, priceUsage, selectPriceBook, type PriceBook } from '@switchyard/pricing';
import { startPostgres, type TestServer } from '@switchyard/testing';
import fc from 'fast-check';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Property: whatever order, duplication and timing usage arrives in (completions, cancels,
 * expiries and crashed attempts), through metering's store and billing's batched poster, with
 * prepaid credit bought while it posts and a reservation on the reserved pool: every usage id
 * is posted once, every transaction balances, the trial balance is zero, every balance equals
 * its entries, prepaid credit never goes negative, and each usage costs what the price version
 * in force when it was first recorded says, at the reserved rate only for the holder.
 */

let pg: TestServer;
let sql: Sql;

const T0 = Date.UTC(2031, 2, 1, 9);
const SWITCH = T0 + 30 * 60_000;
const V2: PriceBook = {
  ...DEFAULT_PRICE_BOOK,
  version: 'v2-test',
  effectiveFromUnixMs: SWITCH,
  models: Object.fromEntries(Object.entries(DEFAULT_PRICE_BOOK.models).map(([m, p]) => [m, { ...p, outputPer1k: p.outputPer1k * 2 }])),
};
const CATALOG = [DEFAULT_PRICE_BOOK, V2];
const BOOKS = new Map(CATALOG.map((b) => [b.version, b]));
const POOLS = new Map<string, PoolCost>([
  ['p-a', { provider: 'aws', capacityClass: 'on-demand', pricePerGpuHour: 4.1 }],
  ['p-r', { provider: 'azure', capacityClass: 'reserved', pricePerGpuHour: 3.7 }],
]);

beforeAll(async () => {
  pg = await startPostgres();
  sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  await migrate(sql);
  await migrateMetering(sql);
});
afterAll(async () => {
  await sql?.end();
  await pg?.dispose();
});

let run = 0;

const usageArb = fc.record({
  tenant: fc.integer({ min: 0, max: 2 }),
  feature: fc.constantFrom('chat', 'search', ''),
  model: fc.constantFrom('llama-3.2-1b', 'llama-3.1-8b', 'llama-3.1-70b-tp4'),
  tier: fc.constantFrom(Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH),
  pool: fc.constantFrom('p-a', 'p-r', 'p-unknown'),
  input: fc.integer({ min: 0, max: 5000 }),
  cached: fc.integer({ min: 0, max: 1000 }),
  output: fc.integer({ min: 0, max: 2000 }),
  gpuMs: fc.double({ min: 0, max: 5000, noNaN: true }),
  recordedOffsetMs: fc.integer({ min: 0, max: 60 * 60_000 - 1 }),
  // Unfinished attempts too: cancelled and expired bill their tokens, failed bill none but cost GPU time.
  outcome: fc.constantFrom(Outcome.OUTCOME_COMPLETED, Outcome.OUTCOME_COMPLETED, Outcome.OUTCOME_CANCELLED, Outcome.OUTCOME_EXPIRED, Outcome.OUTCOME_FAILED),
});

/** A prepaid credit purchase, bought while the batches post. */
const creditArb = fc.record({ tenant: fc.integer({ min: 0, max: 2 }), micros: fc.integer({ min: 1, max: 40_000 }) });

/** A delivery: which usage, whether it is a replay (the worker re-emitted it later, outside any dedupe window), and its batch. */
const deliveryArb = fc.record({
  usage: fc.nat(),
  replayDelayMs: fc.option(fc.integer({ min: 1, max: 90 * 60_000 }), { freq: 3 }),
  batch: fc.integer({ min: 0, max: 5 }),
});

describe('exactly-once posting (property)', () => {
  it('keeps every invariant under duplicates, redeliveries, reordering and out-of-window replays', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(usageArb, { minLength: 1, maxLength: 25 }),
        fc.array(deliveryArb, { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 90 }),
        fc.array(creditArb, { maxLength: 6 }),
        fc.integer({ min: 0, max: 60 * 60_000 }),
        async (specs, extra, order, credits, reservedForMs) => {
          run++;
          const tenantOf = (i: number) => `prop${run}-t${i}`;
          // Tenant 0 holds the reserved pool for the first `reservedForMs` of the hour.
          const reservation = {
            id: `res-prop${run}`,
            tenant: tenantOf(0),
            pools: ['p-r'],
            model: 'llama-3.1-8b',
            gpus: 1,
            startMs: T0,
            endMs: T0 + reservedForMs,
            feePerGpuHourMicros: 0,
            priceVersion: 'v1',
          };
          const reservations = indexReservations([reservation]);
          const usages: BillableUsage[] = specs.map((s, i) => ({
            usageId: `usage-prop${run}-${i}`,
            outcome: s.outcome,
            requestId: `prop${run}-${i}`,
            tenant: tenantOf(s.tenant),
            feature: s.feature,
            model: s.model,
            tier: s.tier,
            pool: s.pool,
            usage: { inputTokens: s.input, cachedInputTokens: Math.min(s.cached, s.input), outputTokens: s.output },
            gpuSeconds: s.gpuMs / 1000,
            recordedUnixMs: T0 + s.recordedOffsetMs,
          }));
          // Every usage is delivered at least once; extra deliveries duplicate, redeliver or replay later.
          let deliveries = [
            ...usages.map((u, i) => ({ u, batch: i % 3 })),
            ...extra.map((d) => {
              const u = usages[d.usage % usages.length]!;
              return { u: d.replayDelayMs === null ? u : { ...u, recordedUnixMs: u.recordedUnixMs + d.replayDelayMs }, batch: d.batch };
            }),
          ];
          deliveries = deliveries
            .map((d, i) => ({ d, k: order[i] ?? i }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.d);

          // Batches run concurrently, each through metering's store then billing's poster.
          const poster = createLedgerPoster(sql);
          const batches = new Map<number, BillableUsage[]>();
          for (const { u, batch } of deliveries) batches.set(batch, [...(batches.get(batch) ?? []), u]);
          const purchased = [0, 0, 0];
          for (const c of credits) purchased[c.tenant]! += c.micros;
          await Promise.all([
            ...credits.map((c, i) => addCredit(sql, { tenant: tenantOf(c.tenant), amountMicros: c.micros, reference: `prop${run}-${i}` })),
            ...[...batches.values()].map(async (batch) => {
              const { stored } = await recordUsage(
                sql,
                batch.map((u) => toMetered(u, 1)),
              );
              const billable = batch.map((u) => toBillableFromMetered(stored.get(u.usageId)!));
              await poster.post(billable.map((b) => preparePosting(b, CATALOG, POOLS, reservations)));
              // Billing redelivers the whole batch once more: nothing may change.
              await poster.post(billable.map((b) => preparePosting(b, CATALOG, POOLS, reservations)));
            }),
          ]);

          const ids = usages.map((u) => u.usageId);
          const [posted] = await sql<{ n: string; d: string }[]>`
          SELECT count(*) AS n, count(DISTINCT usage_id) AS d FROM ledger_transactions WHERE usage_id = ANY(${sql.array(ids)}::text[])`;
          expect(Number(posted!.n)).toBe(usages.length);
          expect(Number(posted!.d)).toBe(usages.length);

          const unbalanced = await sql`
          SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
           WHERE t.usage_id = ANY(${sql.array(ids)}::text[]) OR t.kind = 'gpu_cost'
           GROUP BY t.id
          HAVING count(e.id) < 2 OR coalesce(sum(e.amount_micros) FILTER (WHERE e.side = 'debit'), 0) <> coalesce(sum(e.amount_micros) FILTER (WHERE e.side = 'credit'), 0)`;
          expect(unbalanced).toHaveLength(0);

          const drift = await sql`
          SELECT a.id FROM accounts a LEFT JOIN (SELECT account_id, sum(amount_micros) FILTER (WHERE side = 'debit') AS d, sum(amount_micros) FILTER (WHERE side = 'credit') AS c
            FROM ledger_entries GROUP BY account_id) s ON s.account_id = a.id
           WHERE a.debit_micros <> coalesce(s.d, 0) OR a.credit_micros <> coalesce(s.c, 0)`;
          expect(drift).toHaveLength(0);

          // The trial balance: every debit in the ledger has its credit.
          const [trial] = await sql<{ d: string; c: string }[]>`
          SELECT coalesce(sum(amount_micros) FILTER (WHERE side = 'debit'), 0) AS d, coalesce(sum(amount_micros) FILTER (WHERE side = 'credit'), 0) AS c
            FROM ledger_entries`;
          expect(trial!.d).toBe(trial!.c);

          // Each tenant owes what its usages cost under the version in force when metering
          // first recorded them, however late and often a replay came.
          const metered = await sql<
            { usage_id: string; recorded_at: Date }[]
          >`SELECT usage_id, recorded_at FROM metered_usage WHERE usage_id = ANY(${sql.array(ids)}::text[])`;
          expect(metered).toHaveLength(usages.length);
          const firstRecorded = new Map(metered.map((m) => [m.usage_id, m.recorded_at.getTime()]));
          for (let t = 0; t < 3; t++) {
            // A failed attempt's tokens are not the tenant's to pay.
            const mine = usages
              .filter((u) => u.tenant === tenantOf(t))
              .map((u) => ({
                ...u,
                recordedUnixMs: firstRecorded.get(u.usageId)!,
                usage: u.outcome === Outcome.OUTCOME_FAILED ? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 } : u.usage,
              }));
            const expected = mine.reduce((sum, u) => {
              // The reserved rate is the holder's, on its pool, while the reservation runs.
              const held =
                u.pool === 'p-r' && u.tenant === reservation.tenant && u.recordedUnixMs >= reservation.startMs && u.recordedUnixMs < reservation.endMs;
              return sum + priceUsage(u, selectPriceBook(CATALOG, u.recordedUnixMs), { capacityClass: held ? 'reserved' : 'on-demand' }).amountMicros;
            }, 0);
            const balance = async (id: string) => {
              const [row] = await sql<{ b: string }[]>`SELECT debit_micros - credit_micros AS b FROM accounts WHERE id = ${id}`;
              return Number(row?.b ?? 0);
            };
            // Prepaid credit (a liability: its credits are what is held) never goes negative;
            // what it paid plus what is still receivable is exactly what the usage cost.
            const prepaidHeld = -(await balance(accounts.prepaid(tenantOf(t))));
            expect(prepaidHeld).toBeGreaterThanOrEqual(0);
            const applied = purchased[t]! - prepaidHeld;
            expect(applied).toBeGreaterThanOrEqual(0);
            expect(applied).toBeLessThanOrEqual(expected);
            expect((await balance(accounts.receivable(tenantOf(t)))) + applied).toBe(expected);
          }
        },
      ),
      { numRuns: 30 },
    );

    const report = await reconcileLedger(sql, { startMs: T0, endMs: T0 + 2 * 3_600_000, books: BOOKS });
    expect(report.differences).toEqual([]);
    expect(report.ok).toBe(true);
  }, 120_000);

  it('reports metered usage the ledger lacks, to the token, until it is posted', async () => {
    const at = T0 + 5 * 3_600_000 + 90_000;
    const u: BillableUsage = {
      usageId: 'usage-late',
      outcome: Outcome.OUTCOME_COMPLETED,
      requestId: 'late',
      tenant: 'late-tenant',
      feature: 'chat',
      model: 'llama-3.1-8b',
      tier: Tier.TIER_REALTIME,
      pool: 'p-a',
      usage: { inputTokens: 321, cachedInputTokens: 20, outputTokens: 54 },
      gpuSeconds: 0.25,
      recordedUnixMs: at,
    };
    await recordUsage(sql, [toMetered(u, 1)]);
    const window = { startMs: at, endMs: at + 1, tenant: 'late-tenant', books: BOOKS };
    const before = await reconcileLedger(sql, window);
    expect(before.ok).toBe(false);
    expect(before.tokenDifference).toBe(321 + 20 + 54);
    expect(before.differences.map((d) => [d.field, d.metered, d.ledger])).toEqual([
      ['requests', 1, 0],
      ['inputTokens', 321, 0],
      ['cachedInputTokens', 20, 0],
      ['outputTokens', 54, 0],
      ['gpuMicros', 250_000, 0],
    ]);
    await createLedgerPoster(sql).post([preparePosting(u, CATALOG, POOLS)]);
    const after = await reconcileLedger(sql, window);
    expect(after).toMatchObject({ ok: true, tokenDifference: 0, differences: [], budgetSpend: [] });

    // The budget spend admission enforces must be the ledger's: a drift of one micro is reported.
    await sql`UPDATE budget_spend SET spent_micros = spent_micros + 1 WHERE tenant = 'late-tenant' AND feature = 'chat'`;
    const drifted = await reconcileLedger(sql, window);
    expect(drifted.ok).toBe(false);
    const [{ charged }] = await sql<{ charged: string }[]>`SELECT amount_micros AS charged FROM ledger_transactions WHERE usage_id = 'usage-late'`;
    expect(drifted.budgetSpend).toEqual([
      { tenant: 'late-tenant', feature: 'chat', period: '2031-03', budgetSpendMicros: Number(charged) + 1, ledgerMicros: Number(charged) },
    ]);
    await sql`UPDATE budget_spend SET spent_micros = spent_micros - 1 WHERE tenant = 'late-tenant' AND feature = 'chat'`;
  });
});

import { Tier, type BillableUsage } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, parsePeriod, priceUsage } from '@switchyard/pricing';
import { startPostgres, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInvoice } from './invoices.js';
import { addCredit, reverseUsage, tenantBalances } from './ledger.js';
import { createLedgerPoster } from './ledger-posting.js';
import { migrate } from './migrate.js';
import { reconcileLedger } from './reconcile-job.js';
import { addPriceVersion, loadCatalog, seedCatalog } from './price-versions.js';
import { accounts, preparePosting, type PoolCost } from './domain/posting.js';
import { indexReservations } from './domain/reservation.js';

let pg: TestServer;
let sql: Sql;

beforeAll(async () => {
  pg = await startPostgres();
  sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  expect(await migrate(sql)).toEqual(['001_ledger.sql', '002_accounts_prices_budgets.sql', '003_credit_reservations_fleet.sql', '004_cost_basis.sql']);
  expect(await migrate(sql)).toEqual([]);
});
afterAll(async () => {
  await sql?.end();
  await pg?.dispose();
});

const POOLS = new Map<string, PoolCost>([['p-8b', { provider: 'aws', capacityClass: 'on-demand', pricePerGpuHour: 3.6 }]]);
const RECORDED = Date.UTC(2030, 0, 15, 10, 30);

const usage = (usageId: string, over: Partial<BillableUsage> = {}): BillableUsage => ({
  usageId,
  requestId: `r-${usageId}`,
  tenant: 'acme',
  feature: 'chat',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: 'p-8b',
  usage: { inputTokens: 1200, cachedInputTokens: 0, outputTokens: 300 },
  gpuSeconds: 0.5,
  recordedUnixMs: RECORDED,
  ...over,
});
const posting = (u: BillableUsage) => preparePosting(u, [DEFAULT_PRICE_BOOK], POOLS);

const count = async (where: postgres.PendingQuery<postgres.Row[]>) =>
  Number((await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE ${where}`)[0]!.n);

describe('ledger', () => {
  it('posts a usage id once, however many times and batches it arrives in, even concurrently', async () => {
    const poster = createLedgerPoster(sql);
    const u = usage('u-dup');
    const results = await Promise.all(Array.from({ length: 8 }, () => poster.post([posting(u), posting(u), posting(usage('u-other-' + Math.random()))])));
    const outcomes = results.map((r) => r.outcomes[0]);
    expect(outcomes.filter((o) => o === 'posted')).toHaveLength(1);
    expect(results.every((r) => r.outcomes[1] === 'duplicate')).toBe(true);
    expect(await count(sql`usage_id = 'u-dup'`)).toBe(1);
  });

  it('debits the receivable, credits revenue, accrues GPU cost per pool, and keeps running balances equal to the entries', async () => {
    const poster = createLedgerPoster(sql);
    const u = usage('u-cost', { tenant: 'cost-co' });
    const price = priceUsage(u, DEFAULT_PRICE_BOOK).amountMicros;
    await poster.post([posting(u)]);
    const entries = await sql<{ account_id: string; side: string; amount_micros: string }[]>`
      SELECT e.account_id, e.side, e.amount_micros FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
       WHERE t.usage_id = 'u-cost' ORDER BY e.side`;
    expect(entries.map((e) => [e.account_id, e.side, Number(e.amount_micros)])).toEqual([
      [accounts.revenue('llama-3.1-8b'), 'credit', price],
      [accounts.receivable('cost-co'), 'debit', price],
    ]);
    const [tx] = await sql<
      { gpu_cost_micros: string; price_version: string; price_effective_from: Date }[]
    >`SELECT gpu_cost_micros, price_version, price_effective_from FROM ledger_transactions WHERE usage_id = 'u-cost'`;
    expect(Number(tx!.gpu_cost_micros)).toBe(500); // 0.5 s at 3.60 per GPU-hour
    expect(tx!.price_version).toBe('v1');
    expect(tx!.price_effective_from.getTime()).toBe(0);
    expect(await tenantBalances(sql, 'cost-co')).toEqual([{ account: accounts.receivable('cost-co'), balanceMicros: price }]);
    const drift = await sql`
      SELECT a.id FROM accounts a LEFT JOIN (SELECT account_id, sum(amount_micros) FILTER (WHERE side = 'debit') AS d, sum(amount_micros) FILTER (WHERE side = 'credit') AS c
        FROM ledger_entries GROUP BY account_id) s ON s.account_id = a.id
       WHERE a.debit_micros <> coalesce(s.d, 0) OR a.credit_micros <> coalesce(s.c, 0)`;
    expect(drift).toHaveLength(0);
    const [gpu] = await sql<{ d: string }[]>`SELECT debit_micros AS d FROM accounts WHERE id = ${accounts.gpuCost('p-8b')}`;
    const [usageCost] = await sql<{ s: string }[]>`SELECT sum(gpu_cost_micros) AS s FROM ledger_transactions WHERE kind = 'usage' AND pool = 'p-8b'`;
    expect(Number(gpu!.d)).toBe(Number(usageCost!.s));
  });

  it('adds spend to the tenant and feature budget rows of the month the usage was recorded in', async () => {
    const poster = createLedgerPoster(sql);
    const r = await poster.post([posting(usage('u-b1', { tenant: 'budget-co' })), posting(usage('u-b2', { tenant: 'budget-co', feature: 'search' }))]);
    const byFeature = Object.fromEntries(r.spend.map((s) => [s.feature, s]));
    const each = priceUsage(usage('x'), DEFAULT_PRICE_BOOK).amountMicros;
    expect(byFeature['']).toMatchObject({ periodStart: '2030-01-01', spentMicros: 2 * each, revision: 1 });
    expect(byFeature.search).toMatchObject({ spentMicros: each });
  });

  it('refuses an unbalanced transaction at commit', async () => {
    const attempt = sql.begin(async (tx) => {
      const [t] = await tx<{ id: string }[]>`
        INSERT INTO ledger_transactions (usage_id, request_id, tenant, feature, model, tier, pool, input_tokens, cached_input_tokens, output_tokens, gpu_seconds, price_version, recorded_at, amount_micros, gpu_cost_micros)
        VALUES ('u-bad', 'r', 'acme', 'f', 'm', 'realtime', 'p', 1, 0, 1, 0, 'v1', now(), 100, 0) RETURNING id`;
      await tx`INSERT INTO accounts (id, tenant, kind) VALUES ('x:debit', 'acme', 'receivable'), ('x:credit', NULL, 'revenue') ON CONFLICT DO NOTHING`;
      await tx`INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros) VALUES (${t!.id}, 'x:debit', 'debit', 100), (${t!.id}, 'x:credit', 'credit', 99)`;
    });
    await expect(attempt).rejects.toThrow(/unbalanced: 100 debit vs 99 credit/);
    expect(await count(sql`usage_id = 'u-bad'`)).toBe(0);
  });

  it('refuses entries added to a posted transaction, entries on accounts that do not exist, and removing accounts', async () => {
    await createLedgerPoster(sql).post([posting(usage('u-late', { tenant: 'late-co' }))]);
    const [t] = await sql<{ id: string }[]>`SELECT id FROM ledger_transactions WHERE usage_id = 'u-late'`;
    await expect(sql`INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros) VALUES
      (${t!.id}, ${accounts.receivable('late-co')}, 'debit', 5), (${t!.id}, ${accounts.revenue('llama-3.1-8b')}, 'credit', 5)`).rejects.toThrow(/unbalanced/);
    await expect(
      sql.begin(async (tx) => {
        const [n] = await tx<
          { id: string }[]
        >`INSERT INTO ledger_transactions (kind, external_id, memo, amount_micros) VALUES ('credit_purchase', 'x-ghost', 'm', 5) RETURNING id`;
        await tx`INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros) VALUES (${n!.id}, 'no:such:account', 'debit', 5), (${n!.id}, ${accounts.cash()}, 'credit', 5)`;
      }),
    ).rejects.toThrow(/accounts that do not exist/);
    await expect(sql`DELETE FROM accounts WHERE id = ${accounts.receivable('late-co')}`).rejects.toThrow(/accounts are permanent/);
  });

  it('is append-only: corrections are reversals, posted at most once', async () => {
    const poster = createLedgerPoster(sql);
    await poster.post([posting(usage('u-fix', { tenant: 'fix-co' }))]);
    await expect(sql`UPDATE ledger_entries SET amount_micros = 0`).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM ledger_transactions`).rejects.toThrow(/append-only/);
    const first = await reverseUsage(sql, 'u-fix', 'metered twice by mistake');
    const again = await reverseUsage(sql, 'u-fix', 'metered twice by mistake');
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ transactionId: first.transactionId, duplicate: true });
    expect(await tenantBalances(sql, 'fix-co')).toEqual([{ account: accounts.receivable('fix-co'), balanceMicros: 0 }]);
    const [spend] = await sql<{ spent_micros: string }[]>`SELECT spent_micros FROM budget_spend WHERE tenant = 'fix-co' AND feature = ''`;
    expect(Number(spend!.spent_micros)).toBe(0);
  });

  it('keeps price-book versions immutable, each in force from a future effective date', async () => {
    await seedCatalog(sql, [DEFAULT_PRICE_BOOK]);
    await seedCatalog(sql, [{ ...DEFAULT_PRICE_BOOK, batchDiscount: 0.9 }]); // a second seed of v1 changes nothing
    const now = Date.now();
    await addPriceVersion(sql, { ...DEFAULT_PRICE_BOOK, version: 'v2', effectiveFromUnixMs: now + 120_000 }, now);
    await expect(addPriceVersion(sql, { ...DEFAULT_PRICE_BOOK, version: 'v3', effectiveFromUnixMs: now + 1_000 }, now)).rejects.toThrow(
      /now or later|after the latest/,
    );
    await expect(sql`UPDATE price_book_versions SET book = '{}'`).rejects.toThrow(/append-only/);
    const catalog = await loadCatalog(sql);
    expect(catalog.map((b) => [b.version, b.effectiveFromUnixMs, b.batchDiscount])).toEqual([
      ['v1', 0, 0.5],
      ['v2', now + 120_000, 0.5],
    ]);
  });

  it('records prepaid credit once per reference', async () => {
    const a = await addCredit(sql, { tenant: 'prepay-co', amountMicros: 5_000_000, reference: 'pay-1' });
    const b = await addCredit(sql, { tenant: 'prepay-co', amountMicros: 5_000_000, reference: 'pay-1' });
    expect(a).toMatchObject({ duplicate: false, prepaidCreditMicros: 5_000_000 });
    expect(b).toMatchObject({ duplicate: true, transactionId: a.transactionId, prepaidCreditMicros: 5_000_000 });
    await expect(addCredit(sql, { tenant: 'prepay-co', amountMicros: 1, reference: 'pay-1' })).rejects.toThrow(/another amount/);
    expect(await tenantBalances(sql, 'prepay-co')).toEqual([{ account: accounts.prepaid('prepay-co'), balanceMicros: -5_000_000 }]);
  });

  it('costs usage spilled to a provider pool per token, balances the ledger, and invoices it on its own line', async () => {
    // spill-co reserved a GPU of own-h100; when it was saturated, a request spilled to an Azure
    // OpenAI deployment priced 2.50 / 1.25 cached / 10.00 per million tokens.
    const pools = new Map<string, PoolCost>([
      ['own-h100', { provider: 'aws', capacityClass: 'reserved', pricePerGpuHour: 3.6 }],
      [
        'azure-oai',
        { provider: 'azure-openai', capacityClass: 'on-demand', tokenPrices: { inputPerMillion: 2.5, cachedInputPerMillion: 1.25, outputPerMillion: 10 } },
      ],
    ]);
    const held = indexReservations([
      {
        id: 'spill-res',
        tenant: 'spill-co',
        pools: ['own-h100'],
        model: 'llama-3.1-8b',
        gpus: 1,
        startMs: Date.UTC(2030, 0, 1),
        endMs: Date.UTC(2030, 1, 1),
        feePerGpuHourMicros: 4_500_000,
        priceVersion: 'v1',
      },
    ]);
    const spill = (id: string, pool: string, over: Partial<BillableUsage> = {}) =>
      preparePosting(usage(id, { tenant: 'spill-co', pool, ...over }), [DEFAULT_PRICE_BOOK], pools, held);
    const postedFrom = Date.now();
    await createLedgerPoster(sql).post([
      spill('u-spill-r1', 'own-h100'),
      spill('u-spill-r2', 'own-h100'),
      spill('u-spill-p1', 'azure-oai', { gpuSeconds: 0, usage: { inputTokens: 1_200, cachedInputTokens: 200, outputTokens: 300 } }),
    ]);

    // 1,000 x 2.50 + 200 x 1.25 + 300 x 10.00 micros, owed to the provider.
    const tokenCost = 2_500 + 250 + 3_000;
    const balance = async (id: string) =>
      (await sql<{ d: string; c: string }[]>`SELECT debit_micros AS d, credit_micros AS c FROM accounts WHERE id = ${id}`)[0];
    expect(await balance(accounts.gpuCost('azure-oai'))).toEqual({ d: String(tokenCost), c: '0' });
    expect(await balance(accounts.gpuPayable('azure-openai'))).toEqual({ d: '0', c: String(tokenCost) });
    expect(await balance(accounts.gpuCost('own-h100'))).toEqual({ d: '1000', c: '0' }); // 2 x 0.5 GPU-s at 3.60 per GPU-hour
    const rows = await sql<{ usage_id: string; cost_basis: string; gpu_cost_micros: string }[]>`
      SELECT usage_id, cost_basis, gpu_cost_micros FROM ledger_transactions WHERE tenant = 'spill-co' ORDER BY usage_id`;
    expect(rows.map((r) => [r.usage_id, r.cost_basis, Number(r.gpu_cost_micros)])).toEqual([
      ['u-spill-p1', 'per-token', tokenCost],
      ['u-spill-r1', 'gpu-hour', 500],
      ['u-spill-r2', 'gpu-hour', 500],
    ]);

    const report = await reconcileLedger(sql, { startMs: postedFrom, endMs: Date.now(), books: new Map([['v1', DEFAULT_PRICE_BOOK]]) });
    expect(report).toMatchObject({ gpuCost: [], unbalanced: [], amountMismatches: [], repriced: [], accounts: [] });
    expect(report.trialBalance.debitMicros).toBe(report.trialBalance.creditMicros);

    const invoice = await loadInvoice(sql, {
      tenant: 'spill-co',
      period: parsePeriod('2030-01')!,
      books: new Map([['v1', DEFAULT_PRICE_BOOK]]),
      currency: 'USD',
      nowMs: Date.UTC(2030, 0, 20),
    });
    expect(invoice.lines.map((l) => [l.capacityClass, l.costBasis, l.pools, l.requests, l.gpuCostMicros])).toEqual([
      ['on-demand', 'per-token', ['azure-oai'], 1, tokenCost],
      ['reserved', 'gpu-hour', ['own-h100'], 2, 1_000],
    ]);
    expect(invoice.gpuCostMicros).toBe(tokenCost + 1_000);
  });
});

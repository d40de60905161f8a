import { Tier, type BillableUsage } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, parsePeriod } from '@switchyard/pricing';
import { startPostgres, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInvoice } from './invoices.js';
import { addCredit, prepaidCredit } from './ledger.js';
import { createLedgerPoster } from './ledger-posting.js';
import { migrate } from './migrate.js';
import { reconcileLedger } from './reconcile-job.js';
import { accounts, preparePosting, type PoolCost } from './domain/posting.js';

let pg: TestServer;
let sql: Sql;

beforeAll(async () => {
  pg = await startPostgres();
  sql = postgres(pg.url, { max: 12, onnotice: () => {} });
  await migrate(sql);
});
afterAll(async () => {
  await sql?.end();
  await pg?.dispose();
});

const POOLS = new Map<string, PoolCost>([['p-8b', { provider: 'aws', capacityClass: 'on-demand', pricePerGpuHour: 3.6 }]]);
const JAN = Date.UTC(2030, 0, 20, 10);
const FEB = Date.UTC(2030, 1, 5, 10);
const BOOKS = new Map([[DEFAULT_PRICE_BOOK.version, DEFAULT_PRICE_BOOK]]);

const usage = (tenant: string, id: string, recordedUnixMs: number): BillableUsage => ({
  usageId: `${tenant}-${id}`,
  requestId: `r-${tenant}-${id}`,
  tenant,
  feature: 'chat',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: 'p-8b',
  usage: { inputTokens: 10_000, cachedInputTokens: 0, outputTokens: 1_000 },
  gpuSeconds: 0.5,
  recordedUnixMs,
});
const posting = (u: BillableUsage) => preparePosting(u, [DEFAULT_PRICE_BOOK], POOLS);
/** 10,000 input + 1,000 output tokens of llama-3.1-8b: 2,000 + 600 micros. */
const EACH = 2_600;

const balance = async (account: string) =>
  Number((await sql<{ b: string }[]>`SELECT coalesce(sum(debit_micros - credit_micros), 0) AS b FROM accounts WHERE id = ${account}`)[0]!.b);
const invoice = (tenant: string, period: string) =>
  loadInvoice(sql, { tenant, period: parsePeriod(period)!, books: BOOKS, currency: 'USD', nowMs: Date.UTC(2030, 2, 1) });

describe('prepaid credit', () => {
  it('pays charges before they become receivable, and each month shows the credit that paid it once', async () => {
    await addCredit(sql, { tenant: 'two-months', amountMicros: 15 * EACH, reference: 'pay-1' });
    const poster = createLedgerPoster(sql);
    // January: 10 charges, all paid by credit (one of them delivered twice).
    const jan = Array.from({ length: 10 }, (_, i) => posting(usage('two-months', `jan-${i}`, JAN + i)));
    await poster.post([...jan.slice(0, 6), jan[0]!]);
    await poster.post(jan.slice(4));
    // February: 10 more; the 5 charges' worth of credit left pays half.
    await poster.post(Array.from({ length: 10 }, (_, i) => posting(usage('two-months', `feb-${i}`, FEB + i))));

    const [j, f] = [await invoice('two-months', '2030-01'), await invoice('two-months', '2030-02')];
    expect(j).toMatchObject({ amountMicros: 10 * EACH, creditAppliedMicros: 10 * EACH, amountDueMicros: 0, prepaidCreditMicros: 0 });
    expect(f).toMatchObject({ amountMicros: 10 * EACH, creditAppliedMicros: 5 * EACH, amountDueMicros: 5 * EACH, prepaidCreditMicros: 0 });
    expect(await prepaidCredit(sql, 'two-months')).toBe(0);
    expect(await balance(accounts.receivable('two-months'))).toBe(5 * EACH);
    // A month without charges takes no credit off.
    expect(await invoice('two-months', '2030-03')).toMatchObject({ amountMicros: 0, creditAppliedMicros: 0, amountDueMicros: 0 });

    // Credit bought later pays later charges only, and never the months already invoiced.
    await addCredit(sql, { tenant: 'two-months', amountMicros: EACH, reference: 'pay-2' });
    await poster.post([posting(usage('two-months', 'feb-late', FEB + 100))]);
    expect(await invoice('two-months', '2030-02')).toMatchObject({ creditAppliedMicros: 6 * EACH, amountDueMicros: 5 * EACH });
    expect(await invoice('two-months', '2030-01')).toMatchObject({ creditAppliedMicros: 10 * EACH, amountDueMicros: 0 });
  });

  it('never goes negative while several replicas post batches of one tenant at once', async () => {
    const credit = 37 * EACH + 1_234;
    await addCredit(sql, { tenant: 'busy', amountMicros: credit, reference: 'pay-1' });
    let lowest = credit;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) lowest = Math.min(lowest, await prepaidCredit(sql, 'busy'));
    })();
    const replicas = Array.from({ length: 4 }, () => createLedgerPoster(sql));
    await Promise.all(
      replicas.map(async (poster, r) => {
        for (let b = 0; b < 8; b++) {
          // Overlapping usage ids across replicas: redeliveries race too.
          const batch = Array.from({ length: 5 }, (_, i) => posting(usage('busy', `${(r * 8 + b) % 24}-${i}`, JAN + i)));
          await poster.post(batch);
        }
      }),
    );
    sampling = false;
    await sampler;
    const [posted] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE kind = 'usage' AND tenant = 'busy'`;
    const charged = Number(posted!.n) * EACH;
    expect(charged).toBe(24 * 5 * EACH);
    expect(lowest).toBeGreaterThanOrEqual(0);
    expect(await prepaidCredit(sql, 'busy')).toBe(0);
    const [applied] = await sql<{ s: string }[]>`SELECT sum(amount_micros) AS s FROM ledger_transactions WHERE kind = 'credit_applied' AND tenant = 'busy'`;
    expect(Number(applied!.s)).toBe(credit);
    expect(await balance(accounts.receivable('busy'))).toBe(charged - credit);
    const unbalanced = await sql`
      SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id WHERE t.tenant = 'busy'
       GROUP BY t.id HAVING count(e.id) < 2 OR sum(e.amount_micros) FILTER (WHERE e.side = 'debit') <> sum(e.amount_micros) FILTER (WHERE e.side = 'credit')`;
    expect(unbalanced).toHaveLength(0);
    const report = await reconcileLedger(sql, { startMs: JAN, endMs: JAN + 1, books: BOOKS });
    expect(report).toMatchObject({ overdrawnPrepaid: [], unbalanced: [], amountMismatches: [], repriced: [] });
    expect(report.money!.creditAppliedMicros).toBeGreaterThanOrEqual(credit);
    expect(report.trialBalance.debitMicros).toBe(report.trialBalance.creditMicros);
  });

  it('refuses a purchase that reuses a reference with another amount, and changes nothing', async () => {
    await addCredit(sql, { tenant: 'careful', amountMicros: 5_000_000, reference: 'pay-9' });
    const before = await sql`SELECT count(*) AS n FROM ledger_transactions`;
    await expect(addCredit(sql, { tenant: 'careful', amountMicros: 6_000_000, reference: 'pay-9' })).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringMatching(/reference pay-9 was already recorded with another amount \(5000000 micros, not 6000000\): nothing was recorded/),
    });
    expect(await sql`SELECT count(*) AS n FROM ledger_transactions`).toEqual(before);
    expect(await prepaidCredit(sql, 'careful')).toBe(5_000_000);
  });
});

import { Tier, type BillableUsage } from '@switchyard/contracts';
import { startPostgres, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postUsage } from './ledger.js';
import { migrate } from './migrate.js';
import { DEFAULT_PRICE_BOOK, priceUsage } from '@switchyard/pricing';

let pg: TestServer;
let sql: Sql;

beforeAll(async () => {
  pg = await startPostgres();
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  expect(await migrate(sql)).toEqual(['001_ledger.sql']);
  expect(await migrate(sql)).toEqual([]);
});
afterAll(async () => {
  await sql?.end();
  await pg?.dispose();
});

const usage = (usageId: string): BillableUsage => ({
  usageId, requestId: `r-${usageId}`, tenant: 'acme', feature: 'chat', model: 'llama-3.1-8b', tier: Tier.TIER_REALTIME, pool: 'p',
  usage: { inputTokens: 1200, cachedInputTokens: 0, outputTokens: 300 }, gpuSeconds: 0.4, recordedUnixMs: Date.now(),
});

describe('ledger', () => {
  it('posts a usage id once, however many times it is delivered, even concurrently', async () => {
    const u = usage('u-dup');
    const results = await Promise.all(Array.from({ length: 8 }, () => postUsage(sql, u, priceUsage(u, DEFAULT_PRICE_BOOK))));
    expect(results.filter(Boolean)).toHaveLength(1);
    const [row] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE usage_id = 'u-dup'`;
    expect(Number(row!.n)).toBe(1);
  });

  it('refuses an unbalanced transaction at commit', async () => {
    const attempt = sql.begin(async (tx) => {
      const [t] = await tx<{ id: string }[]>`
        INSERT INTO ledger_transactions (usage_id, request_id, tenant, feature, model, tier, pool, input_tokens, cached_input_tokens, output_tokens, gpu_seconds, price_version, recorded_at)
        VALUES ('u-bad', 'r', 'acme', 'f', 'm', 'realtime', 'p', 1, 0, 1, 0, 'v1', now()) RETURNING id`;
      await tx`INSERT INTO accounts (id, tenant, kind) VALUES ('x:debit', 'acme', 'receivable'), ('x:credit', NULL, 'revenue') ON CONFLICT DO NOTHING`;
      await tx`INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros) VALUES (${t!.id}, 'x:debit', 'debit', 100), (${t!.id}, 'x:credit', 'credit', 99)`;
    });
    await expect(attempt).rejects.toThrow(/unbalanced: 100 debit vs 99 credit/);
    const [row] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE usage_id = 'u-bad'`;
    expect(Number(row!.n)).toBe(0);
  });

  it('is append-only: entries cannot be updated or deleted', async () => {
    const u = usage('u-immutable');
    await postUsage(sql, u, priceUsage(u, DEFAULT_PRICE_BOOK));
    await expect(sql`UPDATE ledger_entries SET amount_micros = 0`).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM ledger_transactions`).rejects.toThrow(/append-only/);
  });
});

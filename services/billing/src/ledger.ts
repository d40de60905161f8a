import type { Sql } from 'postgres';
import { tierName, type BillableUsage } from '@switchyard/contracts';
import type { PricedUsage } from '@switchyard/pricing';

export const accounts = {
  receivable: (tenant: string) => `tenant:${tenant}:receivable`,
  revenue: (model: string) => `platform:revenue:${model}`,
} as const;

/**
 * Posts one usage event as a balanced transaction: the tenant's receivable is debited and
 * the model's revenue credited. Returns false when the usage id was already posted; the
 * UNIQUE constraint and the entries share one database transaction, so a crash between
 * them leaves neither.
 */
export async function postUsage(sql: Sql, usage: BillableUsage, price: PricedUsage): Promise<boolean> {
  const t = usage.usage ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
  return sql.begin(async (tx) => {
    const [row] = await tx<{ id: string }[]>`
      INSERT INTO ledger_transactions (usage_id, request_id, tenant, feature, model, tier, pool,
        input_tokens, cached_input_tokens, output_tokens, gpu_seconds, price_version, recorded_at)
      VALUES (${usage.usageId}, ${usage.requestId}, ${usage.tenant}, ${usage.feature}, ${usage.model},
        ${tierName(usage.tier) ?? 'unspecified'}, ${usage.pool}, ${t.inputTokens}, ${t.cachedInputTokens},
        ${t.outputTokens}, ${usage.gpuSeconds}, ${price.priceVersion}, ${new Date(usage.recordedUnixMs)})
      ON CONFLICT (usage_id) DO NOTHING
      RETURNING id`;
    if (!row) return false;
    const debit = accounts.receivable(usage.tenant);
    const credit = accounts.revenue(usage.model);
    await tx`
      INSERT INTO accounts (id, tenant, kind) VALUES (${debit}, ${usage.tenant}, 'receivable'), (${credit}, NULL, 'revenue')
      ON CONFLICT (id) DO NOTHING`;
    await tx`
      INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros)
      VALUES (${row.id}, ${debit}, 'debit', ${price.amountMicros}), (${row.id}, ${credit}, 'credit', ${price.amountMicros})`;
    return true;
  });
}

export interface LedgerEntryRow {
  transaction_id: string;
  usage_id: string;
  request_id: string;
  account_id: string;
  side: 'debit' | 'credit';
  amount_micros: string;
  posted_at: Date;
  price_version: string;
}

/** Debits minus credits of each account a tenant owns. */
export async function tenantBalances(sql: Sql, tenant: string): Promise<{ account: string; balanceMicros: number }[]> {
  const rows = await sql<{ account_id: string; balance: string }[]>`
    SELECT e.account_id,
           sum(CASE WHEN e.side = 'debit' THEN e.amount_micros ELSE -e.amount_micros END) AS balance
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
     WHERE a.tenant = ${tenant}
     GROUP BY e.account_id ORDER BY e.account_id`;
  return rows.map((r) => ({ account: r.account_id, balanceMicros: Number(r.balance) }));
}

/** A tenant's entries, newest first, keyset-paginated by entry id. */
export async function tenantEntries(sql: Sql, tenant: string, opts: { requestId?: string; limit: number; beforeId?: number }): Promise<(LedgerEntryRow & { id: string })[]> {
  return sql<(LedgerEntryRow & { id: string })[]>`
    SELECT e.id, e.transaction_id, t.usage_id, t.request_id, e.account_id, e.side, e.amount_micros, t.posted_at, t.price_version
      FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
     WHERE t.tenant = ${tenant}
       ${opts.requestId ? sql`AND t.request_id = ${opts.requestId}` : sql``}
       ${opts.beforeId ? sql`AND e.id < ${opts.beforeId}` : sql``}
     ORDER BY e.id DESC
     LIMIT ${opts.limit}`;
}

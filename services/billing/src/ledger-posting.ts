import { retryConflicts } from '@switchyard/db';
import type { Sql, TransactionSql } from 'postgres';
import { chargesByTenantMonth } from './domain/credit.js';
import { accounts, accountsFor, gpuAccruals, spendDeltas, uniqueByUsageId, type AccountSpec, type UsagePosting } from './domain/posting.js';
import { drawPrepaid } from './prepaid.js';

/** What became of one usage posting. */
export type PostingOutcome = 'posted' | 'duplicate';

/** A budget row after a posting changed it. */
export interface SpendRow {
  readonly tenant: string;
  readonly feature: string;
  /** `YYYY-MM-01`. */
  readonly periodStart: string;
  readonly spentMicros: number;
  readonly revision: number;
}

export interface PostingBatchResult {
  /** One per input posting, in order. */
  readonly outcomes: PostingOutcome[];
  /** Budget rows this batch changed. */
  readonly spend: SpendRow[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Writes usage to the ledger in batches: one database transaction posts hundreds of usage
 * events, each as its own balanced ledger transaction (debit the tenant's receivable,
 * credit the model's revenue), pays those charges out of the tenants' prepaid credit first
 * (one `credit_applied` transaction per tenant and month: debit prepaid, credit receivable),
 * accrues the GPU cost of the newly posted usage per pool,
 * and adds the spend to the month's budget rows. The UNIQUE usage id decides, inside that
 * same transaction, which events are new; a redelivered or replayed event changes nothing.
 */
export function createLedgerPoster(sql: Sql) {
  /** Accounts known to exist, so a batch skips the insert once they do. */
  const known = new Set<string>();

  async function ensureAccounts(tx: TransactionSql, specs: readonly AccountSpec[]) {
    const missing = specs.filter((s) => !known.has(s.id));
    if (!missing.length) return;
    // Platform accounts have no tenant; '' (never a tenant id) carries that through the array.
    await tx`
      INSERT INTO accounts (id, tenant, kind)
      SELECT id, nullif(tenant, ''), kind
        FROM unnest(${tx.array(missing.map((s) => s.id))}::text[], ${tx.array(missing.map((s) => s.tenant ?? ''))}::text[], ${tx.array(missing.map((s) => s.kind))}::text[])
          AS a(id, tenant, kind)
       ORDER BY id
      ON CONFLICT (id) DO NOTHING`;
  }

  async function postOnce(postings: readonly UsagePosting[]): Promise<{ posted: Set<string>; spend: SpendRow[]; created: AccountSpec[] }> {
    const batch = uniqueByUsageId(postings);
    const specs = accountsFor(batch);
    return sql.begin(async (tx) => {
      await ensureAccounts(tx, specs);
      const col = <T>(f: (p: UsagePosting) => T) => tx.array(batch.map(f) as never[]);
      const inserted = await tx<{ id: string; usage_id: string }[]>`
        INSERT INTO ledger_transactions (kind, usage_id, request_id, tenant, feature, model, tier, pool,
          input_tokens, cached_input_tokens, output_tokens, gpu_seconds, price_version, price_effective_from,
          capacity_class, amount_micros, gpu_cost_micros, recorded_at, cost_basis)
        SELECT 'usage', * FROM unnest(
          ${col((p) => p.usage.usageId)}::text[], ${col((p) => p.usage.requestId)}::text[], ${col((p) => p.usage.tenant)}::text[],
          ${col((p) => p.usage.feature)}::text[], ${col((p) => p.usage.model)}::text[], ${col((p) => p.tier)}::text[],
          ${col((p) => p.usage.pool)}::text[], ${col((p) => p.usage.usage?.inputTokens ?? 0)}::int4[],
          ${col((p) => p.usage.usage?.cachedInputTokens ?? 0)}::int4[], ${col((p) => p.usage.usage?.outputTokens ?? 0)}::int4[],
          ${col((p) => p.usage.gpuSeconds)}::float8[], ${col((p) => p.priceVersion)}::text[],
          ${col((p) => iso(p.priceEffectiveFromMs))}::timestamptz[], ${col((p) => p.capacityClass)}::text[],
          ${col((p) => p.amountMicros)}::int8[], ${col((p) => p.gpuCostMicros)}::int8[], ${col((p) => iso(p.usage.recordedUnixMs))}::timestamptz[],
          ${col((p) => p.costBasis)}::text[])
        ON CONFLICT (usage_id) DO NOTHING
        RETURNING id, usage_id`;
      const posted = new Set(inserted.map((r) => r.usage_id));
      if (!inserted.length) return { posted, spend: [], created: specs };

      const byId = new Map(batch.map((p) => [p.usage.usageId, p]));
      const txIds: string[] = [];
      const accountIds: string[] = [];
      const sides: string[] = [];
      const amounts: number[] = [];
      const entry = (txId: string, account: string, side: 'debit' | 'credit', amount: number) => {
        txIds.push(txId);
        accountIds.push(account);
        sides.push(side);
        amounts.push(amount);
      };
      const newly: UsagePosting[] = [];
      for (const row of inserted) {
        const p = byId.get(row.usage_id)!;
        newly.push(p);
        entry(row.id, accounts.receivable(p.usage.tenant), 'debit', p.amountMicros);
        entry(row.id, accounts.revenue(p.usage.model), 'credit', p.amountMicros);
      }

      // Transactions this batch adds beside the usage (GPU cost, credit applied) are named
      // after the batch's first new transaction, which no other batch can share.
      const first = inserted.reduce((m, r) => (BigInt(r.id) < BigInt(m) ? r.id : m), inserted[0]!.id);
      const accruals = gpuAccruals(newly);
      if (accruals.length) {
        const costTx = await tx<{ id: string; pool: string }[]>`
          INSERT INTO ledger_transactions (kind, external_id, pool, gpu_seconds, gpu_cost_micros, amount_micros, memo)
          SELECT 'gpu_cost', 'gpu-cost:' || ${first} || ':' || pool, pool, gpu_seconds, cost, cost, 'GPU time of usage posted with transaction ' || ${first}
            FROM unnest(${tx.array(accruals.map((a) => a.pool))}::text[], ${tx.array(accruals.map((a) => a.gpuSeconds))}::float8[],
                        ${tx.array(accruals.map((a) => a.costMicros))}::int8[]) AS g(pool, gpu_seconds, cost)
          RETURNING id, pool`;
        const byPool = new Map(accruals.map((a) => [a.pool, a]));
        for (const c of costTx) {
          const a = byPool.get(c.pool)!;
          entry(c.id, accounts.gpuCost(a.pool), 'debit', a.costMicros);
          entry(c.id, accounts.gpuPayable(a.provider), 'credit', a.costMicros);
        }
      }

      // Prepaid credit pays the charges first; only the rest stays receivable.
      const charges = chargesByTenantMonth(
        newly.map((p) => ({ tenant: p.usage.tenant, amountMicros: p.amountMicros, recordedUnixMs: p.usage.recordedUnixMs })),
      );
      for (const e of await drawPrepaid(tx, charges, `credit-applied:${first}`)) entry(e.transactionId, e.account, e.side, e.amountMicros);

      await tx`
        INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros)
        SELECT * FROM unnest(${tx.array(txIds)}::int8[], ${tx.array(accountIds)}::text[], ${tx.array(sides)}::text[], ${tx.array(amounts)}::int8[])`;

      const deltas = spendDeltas(
        newly.map((p) => ({ tenant: p.usage.tenant, feature: p.usage.feature, recordedUnixMs: p.usage.recordedUnixMs, amountMicros: p.amountMicros })),
      );
      const spend = await applySpend(tx, deltas);
      return { posted, spend, created: specs };
    });
  }

  return {
    /**
     * Posts a batch; retries it whole on a deadlock or serialization failure. Outcomes
     * are per input posting: a usage id seen twice in one batch is posted once, the
     * second copy reported as a duplicate.
     */
    async post(postings: readonly UsagePosting[]): Promise<PostingBatchResult> {
      const { posted, spend, created } = await retryConflicts(() => postOnce(postings));
      for (const s of created) known.add(s.id);
      const claimed = new Set<string>();
      const outcomes = postings.map((p): PostingOutcome => {
        const id = p.usage.usageId;
        if (!posted.has(id) || claimed.has(id)) return 'duplicate';
        claimed.add(id);
        return 'posted';
      });
      return { outcomes, spend };
    },
  };
}

export type LedgerPoster = ReturnType<typeof createLedgerPoster>;

/** Adds spend to budget rows in key order (the lock order) and returns the rows as they now are. */
export async function applySpend(
  tx: TransactionSql,
  deltas: readonly { tenant: string; feature: string; periodStart: string; amountMicros: number }[],
): Promise<SpendRow[]> {
  if (!deltas.length) return [];
  const rows = await tx<{ tenant: string; feature: string; period: string; spent_micros: string; revision: string }[]>`
    INSERT INTO budget_spend (tenant, feature, period, spent_micros, revision)
    SELECT tenant, feature, period, amount, 1
      FROM unnest(${tx.array(deltas.map((d) => d.tenant))}::text[], ${tx.array(deltas.map((d) => d.feature))}::text[],
                  ${tx.array(deltas.map((d) => d.periodStart))}::date[], ${tx.array(deltas.map((d) => d.amountMicros))}::int8[])
        WITH ORDINALITY AS s(tenant, feature, period, amount, n)
     ORDER BY n
    ON CONFLICT (tenant, period, feature) DO UPDATE
      SET spent_micros = budget_spend.spent_micros + excluded.spent_micros, revision = budget_spend.revision + 1
    RETURNING tenant, feature, to_char(period, 'YYYY-MM-DD') AS period, spent_micros, revision`;
  return rows.map((r) => ({ tenant: r.tenant, feature: r.feature, periodStart: r.period, spentMicros: Number(r.spent_micros), revision: Number(r.revision) }));
}

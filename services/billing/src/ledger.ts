import { DomainError } from '@switchyard/contracts';
import type { Sql } from 'postgres';
import { applySpend } from './ledger-posting.js';
import { accounts, spendDeltas } from './domain/posting.js';

export interface LedgerEntryRow {
  transaction_id: string;
  usage_id: string | null;
  request_id: string | null;
  account_id: string;
  side: 'debit' | 'credit';
  amount_micros: string;
  posted_at: Date;
  price_version: string | null;
}

/** Debits minus credits of each account a tenant owns, from the running totals. */
export async function tenantBalances(sql: Sql, tenant: string): Promise<{ account: string; balanceMicros: number }[]> {
  const rows = await sql<{ id: string; balance: string }[]>`
    SELECT id, debit_micros - credit_micros AS balance FROM accounts WHERE tenant = ${tenant} ORDER BY id`;
  return rows.map((r) => ({ account: r.id, balanceMicros: Number(r.balance) }));
}

/** Prepaid credit a tenant holds: credits minus debits of its prepaid account. */
export async function prepaidCredit(sql: Sql, tenant: string): Promise<number> {
  const [row] = await sql<{ credit: string }[]>`SELECT credit_micros - debit_micros AS credit FROM accounts WHERE id = ${accounts.prepaid(tenant)}`;
  return row ? Number(row.credit) : 0;
}

/** A tenant's entries, newest first, keyset-paginated by entry id. */
export async function tenantEntries(
  sql: Sql,
  tenant: string,
  opts: { requestId?: string; limit: number; beforeId?: number },
): Promise<(LedgerEntryRow & { id: string })[]> {
  return sql<(LedgerEntryRow & { id: string })[]>`
    SELECT e.id, e.transaction_id, t.usage_id, t.request_id, e.account_id, e.side, e.amount_micros, t.posted_at, t.price_version
      FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
     WHERE t.tenant = ${tenant}
       ${opts.requestId ? sql`AND t.request_id = ${opts.requestId}` : sql``}
       ${opts.beforeId ? sql`AND e.id < ${opts.beforeId}` : sql``}
     ORDER BY e.id DESC
     LIMIT ${opts.limit}`;
}

export interface LedgerWrite {
  readonly transactionId: string;
  /** True when this correction or purchase was recorded before; nothing new was written. */
  readonly duplicate: boolean;
}

/**
 * Corrects a posted usage the only way an append-only ledger allows: a reversal
 * transaction with the same entries on opposite sides, and the same quantities, which
 * invoices and reconciliation subtract. The GPU cost stays: the GPUs did the work. A usage
 * is reversed at most once.
 */
export async function reverseUsage(sql: Sql, usageId: string, memo: string): Promise<LedgerWrite> {
  return sql.begin(async (tx) => {
    const [original] = await tx<{ id: string; tenant: string; feature: string; amount_micros: string; recorded_at: Date }[]>`
      SELECT id, tenant, feature, amount_micros, recorded_at FROM ledger_transactions WHERE usage_id = ${usageId} AND kind = 'usage'`;
    if (!original) throw new DomainError('NOT_FOUND', `usage ${usageId} is not in the ledger`);
    const [reversal] = await tx<{ id: string }[]>`
      INSERT INTO ledger_transactions (kind, reverses, request_id, tenant, feature, model, tier, pool, input_tokens, cached_input_tokens,
        output_tokens, gpu_seconds, price_version, price_effective_from, capacity_class, amount_micros, gpu_cost_micros, recorded_at, memo, cost_basis)
      SELECT 'reversal', id, request_id, tenant, feature, model, tier, pool, input_tokens, cached_input_tokens,
        output_tokens, gpu_seconds, price_version, price_effective_from, capacity_class, amount_micros, 0, recorded_at, ${memo}, cost_basis
        FROM ledger_transactions WHERE id = ${original.id}
      ON CONFLICT (reverses) WHERE reverses IS NOT NULL DO NOTHING
      RETURNING id`;
    if (!reversal) {
      const [prior] = await tx<{ id: string }[]>`SELECT id FROM ledger_transactions WHERE reverses = ${original.id}`;
      return { transactionId: prior!.id, duplicate: true };
    }
    await tx`
      INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros)
      SELECT ${reversal.id}, account_id, CASE side WHEN 'debit' THEN 'credit' ELSE 'debit' END, amount_micros
        FROM ledger_entries WHERE transaction_id = ${original.id} ORDER BY account_id`;
    const amount = Number(original.amount_micros);
    await applySpend(
      tx,
      spendDeltas([{ tenant: original.tenant, feature: original.feature, recordedUnixMs: original.recorded_at.getTime(), amountMicros: -amount }]),
    );
    return { transactionId: reversal.id, duplicate: false };
  });
}

/**
 * Records prepaid credit bought by a tenant: debit cash, credit the tenant's prepaid
 * account (what the platform owes in future usage). Idempotent by the caller's reference.
 */
export async function addCredit(
  sql: Sql,
  input: { tenant: string; amountMicros: number; reference: string },
): Promise<LedgerWrite & { prepaidCreditMicros: number }> {
  if (!Number.isSafeInteger(input.amountMicros) || input.amountMicros <= 0)
    throw new DomainError('INVALID_ARGUMENT', 'amount_micros must be a positive whole number');
  if (!input.reference || input.reference.length > 128)
    throw new DomainError('INVALID_ARGUMENT', 'reference (1-128 characters) names the purchase so a retry records it once');
  const externalId = `credit:${input.tenant}:${input.reference}`;
  const write = await sql.begin(async (tx): Promise<LedgerWrite> => {
    const cash = accounts.cash();
    const prepaid = accounts.prepaid(input.tenant);
    await tx`
      INSERT INTO accounts (id, tenant, kind) VALUES (${cash}, NULL, 'cash'), (${prepaid}, ${input.tenant}, 'prepaid')
      ON CONFLICT (id) DO NOTHING`;
    const [row] = await tx<{ id: string }[]>`
      INSERT INTO ledger_transactions (kind, external_id, tenant, amount_micros, memo)
      VALUES ('credit_purchase', ${externalId}, ${input.tenant}, ${input.amountMicros}, ${`prepaid credit, reference ${input.reference}`})
      ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING
      RETURNING id`;
    if (!row) {
      const [prior] = await tx<
        { id: string; tenant: string; amount_micros: string }[]
      >`SELECT id, tenant, amount_micros FROM ledger_transactions WHERE external_id = ${externalId}`;
      if (Number(prior!.amount_micros) !== input.amountMicros) {
        throw new DomainError(
          'FAILED_PRECONDITION',
          `reference ${input.reference} was already recorded with another amount (${prior!.amount_micros} micros, not ${input.amountMicros}): nothing was recorded; a new purchase needs a new reference`,
        );
      }
      return { transactionId: prior!.id, duplicate: true };
    }
    // Lock order: by account id, as postings do.
    const [first, second] = [cash, prepaid].sort();
    await tx`
      INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros)
      VALUES (${row.id}, ${first!}, ${first === cash ? 'debit' : 'credit'}, ${input.amountMicros}),
             (${row.id}, ${second!}, ${second === cash ? 'debit' : 'credit'}, ${input.amountMicros})`;
    return { transactionId: row.id, duplicate: false };
  });
  return { ...write, prepaidCreditMicros: await prepaidCredit(sql, input.tenant) };
}

import type { TransactionSql } from 'postgres';
import { allocateCredit, type TenantCharge } from './domain/credit.js';
import { accounts } from './domain/posting.js';

/** One ledger entry to write with the rest of a database transaction's entries. */
export interface EntryRow {
  readonly transactionId: string;
  readonly account: string;
  readonly side: 'debit' | 'credit';
  readonly amountMicros: number;
}

/**
 * Pays the charges a database transaction is posting out of the tenants' prepaid credit,
 * before any of it becomes receivable: locks the prepaid accounts that hold credit (in id
 * order, before the entries' trigger locks the rest, so concurrent postings from several
 * replicas serialize on them and cannot spend the same credit twice), writes one
 * `credit_applied` transaction per tenant and month (`<externalPrefix>:<tenant>:<YYYY-MM>`,
 * a prefix no other posting shares), and returns its entries: debit prepaid, credit
 * receivable. The caller inserts them in the same statement as the charges' entries.
 */
export async function drawPrepaid(tx: TransactionSql, charges: readonly TenantCharge[], externalPrefix: string): Promise<EntryRow[]> {
  if (!charges.length) return [];
  const tenants = [...new Set(charges.map((c) => c.tenant))];
  const held = await tx<{ tenant: string; available: string }[]>`
    SELECT tenant, credit_micros - debit_micros AS available FROM accounts
     WHERE id = ANY(${tx.array(tenants.map(accounts.prepaid))}::text[]) AND credit_micros > debit_micros
     ORDER BY id FOR NO KEY UPDATE`;
  if (!held.length) return [];
  const applied = allocateCredit(new Map(held.map((h) => [h.tenant, Number(h.available)])), charges);
  if (!applied.length) return [];
  const rows = await tx<{ id: string; tenant: string; period: string }[]>`
    INSERT INTO ledger_transactions (kind, external_id, tenant, amount_micros, recorded_at, memo)
    SELECT 'credit_applied', ${externalPrefix} || ':' || tenant || ':' || period, tenant, amount, recorded_at, 'prepaid credit applied to charges of ' || period
      FROM unnest(${tx.array(applied.map((a) => a.tenant))}::text[], ${tx.array(applied.map((a) => a.period))}::text[],
                  ${tx.array(applied.map((a) => a.amountMicros))}::int8[], ${tx.array(applied.map((a) => new Date(a.recordedUnixMs).toISOString()))}::timestamptz[])
        AS c(tenant, period, amount, recorded_at)
    RETURNING id, tenant, substr(external_id, length(${externalPrefix}) + length(tenant) + 3) AS period`;
  const byKey = new Map(applied.map((a) => [`${a.tenant}\u0000${a.period}`, a]));
  return rows.flatMap((r) => {
    const a = byKey.get(`${r.tenant}\u0000${r.period}`)!;
    return [
      { transactionId: r.id, account: accounts.prepaid(a.tenant), side: 'debit' as const, amountMicros: a.amountMicros },
      { transactionId: r.id, account: accounts.receivable(a.tenant), side: 'credit' as const, amountMicros: a.amountMicros },
    ];
  });
}

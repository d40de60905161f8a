import { periodOf } from '@switchyard/pricing';

/** What one tenant was charged in one month by the charges a database transaction posts. */
export interface TenantCharge {
  readonly tenant: string;
  /** `YYYY-MM`. */
  readonly period: string;
  readonly amountMicros: number;
  /** Latest recorded time of the charges: the credit applied to them belongs to the same month. */
  readonly recordedUnixMs: number;
}

/** Prepaid credit applied to a tenant's charges of one month. */
export interface CreditApplication extends TenantCharge {}

/** Sums charges per tenant and month, ordered by tenant then month (oldest first). */
export function chargesByTenantMonth(charges: readonly { tenant: string; amountMicros: number; recordedUnixMs: number }[]): TenantCharge[] {
  const sums = new Map<string, { tenant: string; period: string; amountMicros: number; recordedUnixMs: number }>();
  for (const c of charges) {
    if (c.amountMicros <= 0) continue;
    const period = periodOf(c.recordedUnixMs).period;
    const key = `${c.tenant}\u0000${period}`;
    const s = sums.get(key) ?? { tenant: c.tenant, period, amountMicros: 0, recordedUnixMs: c.recordedUnixMs };
    s.amountMicros += c.amountMicros;
    s.recordedUnixMs = Math.max(s.recordedUnixMs, c.recordedUnixMs);
    sums.set(key, s);
  }
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/**
 * How much of each charge prepaid credit pays: a tenant's charges draw its available credit
 * down, oldest month first, until it is spent; never more than is available, so the prepaid
 * balance cannot go below zero. The rest of each charge stays receivable.
 */
export function allocateCredit(available: ReadonlyMap<string, number>, charges: readonly TenantCharge[]): CreditApplication[] {
  const left = new Map(available);
  const out: CreditApplication[] = [];
  for (const c of charges) {
    const credit = Math.max(0, left.get(c.tenant) ?? 0);
    const applied = Math.min(credit, c.amountMicros);
    if (applied <= 0) continue;
    left.set(c.tenant, credit - applied);
    out.push({ ...c, amountMicros: applied });
  }
  return out;
}

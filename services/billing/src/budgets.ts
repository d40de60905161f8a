import type { Sql } from 'postgres';
import type { Budget, Spend } from './domain/budget.js';
import type { Period } from '@switchyard/pricing';

/** Every budget, or one tenant's. */
export async function loadBudgets(sql: Sql, tenant?: string): Promise<Budget[]> {
  const rows = await sql<{ tenant: string; feature: string; soft: string; hard: string; updated_at: Date }[]>`
    SELECT tenant, feature, soft_limit_micros AS soft, hard_limit_micros AS hard, updated_at FROM budgets
     ${tenant === undefined ? sql`` : sql`WHERE tenant = ${tenant}`}
     ORDER BY tenant, feature`;
  return rows.map((r) => ({
    tenant: r.tenant,
    feature: r.feature,
    softLimitMicros: Number(r.soft),
    hardLimitMicros: Number(r.hard),
    updatedAtMs: r.updated_at.getTime(),
  }));
}

/** Sets a budget; both limits 0 removes it. */
export async function saveBudget(sql: Sql, b: Omit<Budget, 'updatedAtMs'>, nowMs: number): Promise<void> {
  if (b.softLimitMicros === 0 && b.hardLimitMicros === 0) {
    await sql`DELETE FROM budgets WHERE tenant = ${b.tenant} AND feature = ${b.feature}`;
    return;
  }
  await sql`
    INSERT INTO budgets (tenant, feature, soft_limit_micros, hard_limit_micros, updated_at)
    VALUES (${b.tenant}, ${b.feature}, ${b.softLimitMicros}, ${b.hardLimitMicros}, ${new Date(nowMs)})
    ON CONFLICT (tenant, feature) DO UPDATE
      SET soft_limit_micros = excluded.soft_limit_micros, hard_limit_micros = excluded.hard_limit_micros,
          updated_at = greatest(excluded.updated_at, budgets.updated_at + interval '1 millisecond')`;
}

/** This period's spend rows of the given tenants, read in one snapshot. */
export async function loadSpend(sql: Sql, tenants: readonly string[], period: Period): Promise<Map<string, Spend[]>> {
  const out = new Map<string, Spend[]>(tenants.map((t) => [t, []]));
  if (!tenants.length) return out;
  const rows = await sql<{ tenant: string; feature: string; spent_micros: string; revision: string }[]>`
    SELECT tenant, feature, spent_micros, revision FROM budget_spend
     WHERE tenant = ANY(${sql.array([...tenants])}::text[]) AND period = ${new Date(period.startMs).toISOString().slice(0, 10)}::date`;
  for (const r of rows) out.get(r.tenant)?.push({ feature: r.feature, spentMicros: Number(r.spent_micros), revision: Number(r.revision) });
  return out;
}

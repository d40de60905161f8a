import type { Invoice } from '@switchyard/contracts';
import type { Period, PriceBook } from '@switchyard/pricing';
import type { Sql } from 'postgres';
import { buildInvoice, type InvoiceAggregate } from './domain/invoice.js';
import { prepaidCredit } from './ledger.js';

/**
 * Usage transactions minus reversals of a tenant's month, summed per invoice line (rows from
 * before cost_basis existed were all costed per GPU-hour). A request
 * is an attempt the tenant was billed tokens for: a crashed attempt (no tokens billed, its GPU
 * time still in the line's cost) does not dilute the cost per request.
 */
export async function invoiceAggregates(sql: Sql, tenant: string, period: Period): Promise<InvoiceAggregate[]> {
  const rows = await sql<
    {
      model: string;
      tier: string;
      feature: string;
      price_version: string;
      capacity_class: string;
      cost_basis: string;
      requests: string;
      input: string;
      cached: string;
      output: string;
      gpu_seconds: number;
      amount: string;
      gpu_cost: string;
      pools: string[];
    }[]
  >`
    SELECT model, tier, feature, price_version, coalesce(capacity_class, '') AS capacity_class, coalesce(cost_basis, 'gpu-hour') AS cost_basis,
           coalesce(sum(s) FILTER (WHERE input_tokens + output_tokens > 0), 0) AS requests, sum(s * input_tokens) AS input, sum(s * cached_input_tokens) AS cached,
           sum(s * output_tokens) AS output, sum(s * gpu_seconds)::float8 AS gpu_seconds,
           sum(s * amount_micros) AS amount, sum(gpu_cost_micros) AS gpu_cost, array_agg(DISTINCT pool) AS pools
      FROM (SELECT *, CASE kind WHEN 'reversal' THEN -1 ELSE 1 END AS s FROM ledger_transactions
             WHERE tenant = ${tenant} AND kind IN ('usage', 'reversal')
               AND recorded_at >= ${new Date(period.startMs)} AND recorded_at < ${new Date(period.endMs)}) t
     GROUP BY 1, 2, 3, 4, 5, 6`;
  return rows.map((r) => ({
    model: r.model,
    tier: r.tier,
    feature: r.feature,
    priceVersion: r.price_version,
    capacityClass: r.capacity_class,
    costBasis: r.cost_basis,
    requests: Number(r.requests),
    inputTokens: Number(r.input),
    cachedInputTokens: Number(r.cached),
    outputTokens: Number(r.output),
    gpuSeconds: Number(r.gpu_seconds),
    amountMicros: Number(r.amount),
    gpuCostMicros: Number(r.gpu_cost),
    pools: r.pools,
  }));
}

/** Prepaid credit applied to, and reservation fees charged in, a tenant's month. */
export async function monthCharges(sql: Sql, tenant: string, period: Period): Promise<{ creditAppliedMicros: number; reservationFeeMicros: number }> {
  const [row] = await sql<{ credit: string; fees: string }[]>`
    SELECT coalesce(sum(amount_micros) FILTER (WHERE kind = 'credit_applied'), 0) AS credit,
           coalesce(sum(amount_micros) FILTER (WHERE kind = 'reservation_fee'), 0) AS fees
      FROM ledger_transactions
     WHERE tenant = ${tenant} AND kind IN ('credit_applied', 'reservation_fee')
       AND recorded_at >= ${new Date(period.startMs)} AND recorded_at < ${new Date(period.endMs)}`;
  return { creditAppliedMicros: Number(row?.credit ?? 0), reservationFeeMicros: Number(row?.fees ?? 0) };
}

/** The invoice of a tenant's month, as the ledger has it now. */
export async function loadInvoice(
  sql: Sql,
  input: { tenant: string; period: Period; books: ReadonlyMap<string, PriceBook>; currency: string; nowMs: number },
): Promise<Invoice> {
  const [aggregates, credit, month] = await Promise.all([
    invoiceAggregates(sql, input.tenant, input.period),
    prepaidCredit(sql, input.tenant),
    monthCharges(sql, input.tenant, input.period),
  ]);
  return buildInvoice({ ...input, aggregates, prepaidCreditMicros: credit, ...month });
}

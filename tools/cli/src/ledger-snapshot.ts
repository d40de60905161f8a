import type { Sql } from 'postgres';
import type { LedgerRow } from './ledger-diff.js';

/** Kinds compared one transaction to one transaction, by a key every run of billing gives them alike. */
export const PER_TRANSACTION_KINDS = ['usage', 'reversal', 'credit_purchase'] as const;
/**
 * Kinds whose external id names the posting batch that wrote them (`gpu-cost:<first tx id>:<pool>`,
 * `credit-applied:<first tx id>:<tenant>:<month>`): batches differ between any two runs, so these
 * are compared as sums, per pool and per tenant and month.
 */
export const AGGREGATE_KINDS = ['gpu_cost', 'credit_applied'] as const;

export interface SnapshotOptions {
  /** Usage, reversals and credit applied recorded at or after this; credit purchases posted at or after. */
  readonly sinceMs?: number;
  readonly untilMs?: number;
  /** Compare gpu_cost and credit_applied sums too (only meaningful over the whole ledger). */
  readonly aggregates: boolean;
  /** Rows fetched per round trip. Default 1,000. */
  readonly pageSize?: number;
}

interface Row {
  key: string;
  kind: string;
  tenant: string | null;
  fields: Record<string, string | number | boolean | null>;
  entries: Record<string, string | number>;
}

/**
 * Streams one ledger's transactions in key order through a server-side cursor, each with its
 * compared columns and its entries summed per account and side, so a ledger of any size is
 * read in pages. Credit purchases have no recorded time: the window applies to when they
 * were posted.
 */
export async function* readLedger(sql: Sql, o: SnapshotOptions): AsyncGenerator<LedgerRow> {
  const kinds = [...PER_TRANSACTION_KINDS, ...(o.aggregates ? AGGREGATE_KINDS : [])];
  const at = sql`CASE WHEN t.kind = 'credit_purchase' THEN t.posted_at ELSE t.recorded_at END`;
  const since = o.sinceMs === undefined ? sql`` : sql`AND ${at} >= ${new Date(o.sinceMs)}`;
  const until = o.untilMs === undefined ? sql`` : sql`AND ${at} < ${new Date(o.untilMs)}`;
  const cursor = sql<Row[]>`
    WITH t AS (
      SELECT t.*,
             CASE t.kind WHEN 'usage' THEN 'usage:' || t.usage_id
                         WHEN 'reversal' THEN 'reversal:' || o.usage_id
                         WHEN 'gpu_cost' THEN 'gpu_cost:' || t.pool
                         WHEN 'credit_applied' THEN 'credit_applied:' || t.tenant || ':' || right(t.external_id, 7)
                         ELSE t.kind || ':' || t.external_id END AS key
        FROM ledger_transactions t LEFT JOIN ledger_transactions o ON o.id = t.reverses
       WHERE t.kind = ANY(${sql.array(kinds)}::text[]) ${since} ${until}
    ),
    legs AS (
      SELECT t.key, e.account_id || ' ' || e.side AS leg, sum(e.amount_micros) AS amount
        FROM t JOIN ledger_entries e ON e.transaction_id = t.id GROUP BY 1, 2
    ),
    entries AS (SELECT key, jsonb_object_agg(leg, amount) AS entries FROM legs GROUP BY key),
    rows AS (
      SELECT key, kind, tenant,
             jsonb_build_object('request_id', request_id, 'feature', feature, 'model', model, 'tier', tier, 'pool', pool,
               'input_tokens', input_tokens, 'cached_input_tokens', cached_input_tokens, 'output_tokens', output_tokens,
               'gpu_seconds', gpu_seconds, 'price_version', price_version, 'price_effective_from', price_effective_from,
               'capacity_class', capacity_class, 'cost_basis', cost_basis, 'amount_micros', amount_micros,
               'gpu_cost_micros', gpu_cost_micros, 'recorded_at', recorded_at, 'memo', memo) AS fields
        FROM t WHERE kind <> ALL(${sql.array([...AGGREGATE_KINDS])}::text[])
      UNION ALL
      -- Sums of floats in another order differ in the last bits: GPU seconds are compared to the microsecond.
      SELECT key, min(kind), min(tenant),
             jsonb_build_object('amount_micros', sum(amount_micros), 'gpu_cost_micros', sum(gpu_cost_micros),
               'gpu_seconds', round(sum(gpu_seconds)::numeric, 6))
        FROM t WHERE kind = ANY(${sql.array([...AGGREGATE_KINDS])}::text[]) GROUP BY key
    )
    SELECT r.key, r.kind, r.tenant, r.fields, coalesce(e.entries, '{}'::jsonb) AS entries
      FROM rows r LEFT JOIN entries e USING (key)
     ORDER BY r.key COLLATE "C"`.cursor(o.pageSize ?? 1_000);
  for await (const page of cursor) {
    for (const r of page) {
      yield {
        key: r.key,
        kind: r.kind,
        tenant: r.tenant,
        fields: r.fields,
        entries: Object.fromEntries(Object.entries(r.entries).map(([leg, amount]) => [leg, Number(amount)])),
      };
    }
  }
}

/** Transactions per kind the rebuild does not compare, so the report can say what it left out. */
export async function countKinds(sql: Sql, kinds: readonly string[]): Promise<Map<string, number>> {
  const rows = await sql<{ kind: string; n: string }[]>`
    SELECT kind, count(*) AS n FROM ledger_transactions WHERE kind = ANY(${sql.array([...kinds])}::text[]) GROUP BY kind`;
  return new Map(rows.map((r) => [r.kind, Number(r.n)]));
}

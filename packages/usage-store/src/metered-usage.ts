import type { Sql } from 'postgres';

const UNDEFINED_TABLE = '42P01';
const metersNothingYet = (e: unknown) => (e as { code?: string }).code === UNDEFINED_TABLE;

/** What metering counted for one tenant in one hour. */
export interface MeteredHour {
  readonly tenant: string;
  readonly hourMs: number;
  readonly requests: number;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  /** GPU time in whole microseconds. */
  readonly gpuMicros: number;
}

/** A row of per-tenant, per-hour quantities as SQL sums give them (bigints come as text). */
export interface HourRow {
  readonly tenant: string;
  readonly hour_ms: string;
  readonly requests: string;
  readonly input: string;
  readonly cached: string;
  readonly output: string;
  readonly gpu: string;
}

/**
 * Hour rows as numbers. Billing sums its ledger into the same columns, so the two sides of
 * reconciliation are read one way.
 */
export const hourQuantitiesOf = (rows: readonly HourRow[]): MeteredHour[] =>
  rows.map((r) => ({
    tenant: r.tenant,
    hourMs: Number(r.hour_ms),
    requests: Number(r.requests),
    inputTokens: Number(r.input),
    cachedInputTokens: Number(r.cached),
    outputTokens: Number(r.output),
    gpuMicros: Number(r.gpu),
  }));

/**
 * Metering's rollups summed per tenant and hour over [start, end) (whole minutes), only
 * `tenant`'s when given; undefined when metering never ran on this database (no tables).
 */
export async function meteredHours(sql: Sql, q: { startMs: number; endMs: number; tenant?: string }): Promise<MeteredHour[] | undefined> {
  try {
    const rows = await sql<HourRow[]>`
      SELECT tenant, (floor(extract(epoch FROM minute) / 3600) * 3600000)::int8 AS hour_ms, sum(requests) AS requests,
             sum(input_tokens) AS input, sum(cached_input_tokens) AS cached, sum(output_tokens) AS output, sum(gpu_us) AS gpu
        FROM usage_minute_rollups
       WHERE minute >= ${new Date(q.startMs)} AND minute < ${new Date(q.endMs)} ${q.tenant ? sql`AND tenant = ${q.tenant}` : sql``}
       GROUP BY 1, 2`;
    return hourQuantitiesOf(rows);
  } catch (e) {
    if (metersNothingYet(e)) return undefined;
    throw e;
  }
}

/**
 * Which of `requestIds` metering recorded a completion's usage for (an unfinished attempt's usage,
 * a crash's say, does not count: the completion must be there), looking only at usage recorded in
 * [fromMs, toMs) (the BRIN index on recorded_at keeps the lookup to that slice). Empty when
 * metering never ran on this database: nothing was metered.
 */
export async function meteredRequestIds(sql: Sql, q: { requestIds: readonly string[]; fromMs: number; toMs: number }): Promise<Set<string>> {
  try {
    const rows = await sql<{ request_id: string }[]>`
      SELECT DISTINCT request_id FROM metered_usage
       WHERE recorded_at >= ${new Date(q.fromMs)} AND recorded_at < ${new Date(q.toMs)} AND request_id = ANY(${sql.array([...q.requestIds])}::text[])
         AND outcome = 'completed'`;
    return new Set(rows.map((r) => r.request_id));
  } catch (e) {
    if (metersNothingYet(e)) return new Set();
    throw e;
  }
}

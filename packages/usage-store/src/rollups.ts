import { DomainError } from '@switchyard/contracts';
import type { Sql } from 'postgres';

export interface RollupRow {
  readonly minuteMs: number;
  readonly feature: string;
  readonly model: string;
  readonly tier: string;
  readonly pool: string;
  readonly requests: number;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  readonly gpuSeconds: number;
}

/** Metering's per-minute rollups of one tenant, oldest first. */
export async function listRollups(
  sql: Sql,
  q: { tenant: string; feature?: string; startMs: number; endMs: number; limit: number; offset: number },
): Promise<RollupRow[]> {
  try {
    const rows = await sql<
      {
        minute: Date;
        feature: string;
        model: string;
        tier: string;
        pool: string;
        requests: string;
        input_tokens: string;
        cached_input_tokens: string;
        output_tokens: string;
        gpu_us: string;
      }[]
    >`
      SELECT minute, feature, model, tier, pool, requests, input_tokens, cached_input_tokens, output_tokens, gpu_us
        FROM usage_minute_rollups
       WHERE tenant = ${q.tenant} AND minute >= ${new Date(q.startMs)} AND minute < ${new Date(q.endMs)}
         ${q.feature ? sql`AND feature = ${q.feature}` : sql``}
       ORDER BY minute, feature, model, tier, pool
       LIMIT ${q.limit} OFFSET ${q.offset}`;
    return rows.map((r) => ({
      minuteMs: r.minute.getTime(),
      feature: r.feature,
      model: r.model,
      tier: r.tier,
      pool: r.pool,
      requests: Number(r.requests),
      inputTokens: Number(r.input_tokens),
      cachedInputTokens: Number(r.cached_input_tokens),
      outputTokens: Number(r.output_tokens),
      gpuSeconds: Number(r.gpu_us) / 1e6,
    }));
  } catch (e) {
    if ((e as { code?: string }).code === '42P01')
      throw new DomainError('FAILED_PRECONDITION', 'no usage has been metered into this database yet (metering has not run)');
    throw e;
  }
}

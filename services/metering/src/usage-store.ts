// Metering is the only writer of its tables (created by `migrations/`); every other reader
// goes through the queries of `@switchyard/usage-store`, which change with them.
import type { OutcomeName } from '@switchyard/contracts';
import type { Sql } from 'postgres';
import { rollupDeltas, type MeteredUsage } from './domain/rollup.js';

export interface RecordResult {
  /** Usage ids recorded by this call (the rest were metered before). */
  readonly fresh: ReadonlySet<string>;
  /** The stored record of every usage id of the batch, the first one metered. */
  readonly stored: ReadonlyMap<string, MeteredUsage>;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Records a batch of usage once per usage id and adds only the new ones to the per-minute
 * rollups, in one transaction, so a redelivered or replayed usage event is neither counted
 * twice nor lost when the process dies half-way.
 */
export async function recordUsage(sql: Sql, usages: readonly MeteredUsage[]): Promise<RecordResult> {
  const first = new Map<string, MeteredUsage>();
  for (const u of usages) if (!first.has(u.usageId)) first.set(u.usageId, u);
  const unique = [...first.values()].sort((a, b) => (a.usageId < b.usageId ? -1 : a.usageId > b.usageId ? 1 : 0));
  return sql.begin(async (tx) => {
    const col = <T>(f: (u: MeteredUsage) => T) => tx.array(unique.map(f) as never[]);
    const inserted = await tx<{ usage_id: string }[]>`
      INSERT INTO metered_usage (usage_id, request_id, tenant, feature, model, tier, pool, input_tokens, cached_input_tokens,
        output_tokens, gpu_us, ttft_ms, recorded_at, outcome)
      SELECT * FROM unnest(${col((u) => u.usageId)}::text[], ${col((u) => u.requestId)}::text[], ${col((u) => u.tenant)}::text[],
        ${col((u) => u.feature)}::text[], ${col((u) => u.model)}::text[], ${col((u) => u.tier)}::text[], ${col((u) => u.pool)}::text[],
        ${col((u) => u.inputTokens)}::int8[], ${col((u) => u.cachedInputTokens)}::int8[], ${col((u) => u.outputTokens)}::int8[],
        ${col((u) => u.gpuMicros)}::int8[], ${col((u) => u.ttftMs)}::float8[], ${col((u) => iso(u.recordedUnixMs))}::timestamptz[],
        ${col((u) => u.outcome)}::text[])
      ON CONFLICT (usage_id) DO NOTHING
      RETURNING usage_id`;
    const fresh = new Set(inserted.map((r) => r.usage_id));
    const stored = new Map<string, MeteredUsage>();
    for (const u of unique) if (fresh.has(u.usageId)) stored.set(u.usageId, u);
    const seen = unique.filter((u) => !fresh.has(u.usageId)).map((u) => u.usageId);
    if (seen.length) {
      const rows = await tx<
        {
          usage_id: string;
          request_id: string;
          tenant: string;
          feature: string;
          model: string;
          tier: string;
          pool: string;
          input_tokens: string;
          cached_input_tokens: string;
          output_tokens: string;
          gpu_us: string;
          ttft_ms: number;
          recorded_at: Date;
          outcome: OutcomeName;
        }[]
      >`
        SELECT usage_id, request_id, tenant, feature, model, tier, pool, input_tokens, cached_input_tokens, output_tokens, gpu_us, ttft_ms, recorded_at, outcome
          FROM metered_usage WHERE usage_id = ANY(${tx.array(seen)}::text[])`;
      for (const r of rows) {
        stored.set(r.usage_id, {
          usageId: r.usage_id,
          requestId: r.request_id,
          tenant: r.tenant,
          feature: r.feature,
          model: r.model,
          tier: r.tier,
          pool: r.pool,
          inputTokens: Number(r.input_tokens),
          cachedInputTokens: Number(r.cached_input_tokens),
          outputTokens: Number(r.output_tokens),
          gpuMicros: Number(r.gpu_us),
          ttftMs: r.ttft_ms,
          recordedUnixMs: r.recorded_at.getTime(),
          outcome: r.outcome,
        });
      }
    }
    const deltas = rollupDeltas(unique.filter((u) => fresh.has(u.usageId)));
    if (deltas.length) {
      const d = <T>(f: (r: (typeof deltas)[number]) => T) => tx.array(deltas.map(f) as never[]);
      await tx`
        INSERT INTO usage_minute_rollups (tenant, minute, feature, model, tier, pool, requests, input_tokens, cached_input_tokens, output_tokens, gpu_us)
        SELECT tenant, minute, feature, model, tier, pool, requests, input, cached, output, gpu
          FROM unnest(${d((r) => r.tenant)}::text[], ${d((r) => iso(r.minuteMs))}::timestamptz[], ${d((r) => r.feature)}::text[],
                      ${d((r) => r.model)}::text[], ${d((r) => r.tier)}::text[], ${d((r) => r.pool)}::text[], ${d((r) => r.requests)}::int8[],
                      ${d((r) => r.inputTokens)}::int8[], ${d((r) => r.cachedInputTokens)}::int8[], ${d((r) => r.outputTokens)}::int8[],
                      ${d((r) => r.gpuMicros)}::int8[])
            WITH ORDINALITY AS s(tenant, minute, feature, model, tier, pool, requests, input, cached, output, gpu, n)
         ORDER BY n
        ON CONFLICT (tenant, minute, feature, model, tier, pool) DO UPDATE SET
          requests = usage_minute_rollups.requests + excluded.requests,
          input_tokens = usage_minute_rollups.input_tokens + excluded.input_tokens,
          cached_input_tokens = usage_minute_rollups.cached_input_tokens + excluded.cached_input_tokens,
          output_tokens = usage_minute_rollups.output_tokens + excluded.output_tokens,
          gpu_us = usage_minute_rollups.gpu_us + excluded.gpu_us`;
    }
    return { fresh, stored };
  });
}

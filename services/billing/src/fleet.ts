import { watchHeartbeats, type HeartbeatWatch, type KV } from '@switchyard/bus';
import { poolCostModel, type PoolCostModel } from '@switchyard/config';
import { retryConflicts } from '@switchyard/db';
import type { Period } from '@switchyard/pricing';
import type { Logger } from '@switchyard/telemetry';
import type { Sql } from 'postgres';
import { accruesIdleCost, idleAccrual, provisionedNow } from './domain/fleet.js';
import { accounts, type PoolCost } from './domain/posting.js';

const HOUR = 3_600_000;
/** An hour is accrued this long after it ends, so usage metered late is in it. */
const ACCRUE_GRACE_MS = 5 * 60_000;
/** Closed hours older than this are not looked at again. */
const LOOKBACK_MS = 48 * HOUR;

export interface FleetAccrualDeps {
  readonly sql: Sql;
  /** The `pools` KV bucket (worker heartbeats); without it nothing is sampled. */
  readonly poolsKv?: KV;
  readonly pools: ReadonlyMap<string, PoolCost>;
  readonly logger: Logger;
  readonly now: () => number;
  /** How often the live workers are written down. Default 10 s (six samples a minute). */
  readonly sampleEveryMs?: number;
  /** A heartbeat older than this is a worker gone. Default 5 s (workers beat every second). */
  readonly staleMs?: number;
}

export const idleExternalId = (pool: string, hourMs: number) => `gpu-idle:${pool}:${new Date(hourMs).toISOString()}`;

/**
 * Accrues the provisioned fleet's GPU time: samples the live workers from their heartbeats
 * into `fleet_minutes` (one row per worker and minute, so replicas sampling at once count a
 * minute once), and after each hour closes posts the idle part of every pool's provisioned
 * cost (provisioned minus the GPU cost its usage already accrued) as one `gpu_idle`
 * transaction per pool and hour, named by both: debit the pool's idle GPU cost, credit the
 * provider's payable. Per-token pools have no idle cost and are never accrued.
 */
export function createFleetAccrual(deps: FleetAccrualDeps) {
  let watch: HeartbeatWatch | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function sample(nowMs = deps.now()): Promise<number> {
    if (!watch) return 0;
    const rows = provisionedNow(watch.heartbeats(), nowMs, deps.staleMs ?? 5_000);
    if (!rows.length) return 0;
    await deps.sql`
      INSERT INTO fleet_minutes (pool, worker, minute)
      SELECT * FROM unnest(${deps.sql.array(rows.map((r) => r.pool))}::text[], ${deps.sql.array(rows.map((r) => r.worker))}::text[],
                           ${deps.sql.array(rows.map((r) => new Date(r.minuteMs).toISOString()))}::timestamptz[])
      ON CONFLICT DO NOTHING`;
    return rows.length;
  }

  /** Posts the idle cost of every closed pool-hour not posted yet; returns how many it posted. */
  async function accrue(nowMs = deps.now()): Promise<number> {
    const sql = deps.sql;
    const cutoff = Math.floor((nowMs - ACCRUE_GRACE_MS) / HOUR) * HOUR;
    const since = cutoff - LOOKBACK_MS;
    const hours = await sql<{ pool: string; hour_ms: string; worker_minutes: string }[]>`
      SELECT pool, (floor(extract(epoch FROM minute) / 3600) * 3600000)::int8 AS hour_ms, count(*) AS worker_minutes
        FROM fleet_minutes WHERE minute >= ${new Date(since)} AND minute < ${new Date(cutoff)}
       GROUP BY 1, 2`;
    const priced = hours.filter((h) => {
      const pool = deps.pools.get(h.pool);
      return pool !== undefined && accruesIdleCost(poolCostModel({ ...pool, id: h.pool }));
    });
    if (!priced.length) return 0;
    const ids = priced.map((h) => idleExternalId(h.pool, Number(h.hour_ms)));
    const done = new Set(
      (await sql<{ external_id: string }[]>`SELECT external_id FROM ledger_transactions WHERE external_id = ANY(${sql.array(ids)}::text[])`).map(
        (r) => r.external_id,
      ),
    );
    const todo = priced.filter((h) => !done.has(idleExternalId(h.pool, Number(h.hour_ms))));
    if (!todo.length) return 0;
    const used = await sql<{ pool: string; hour_ms: string; gpu_seconds: number; cost: string }[]>`
      SELECT pool, (floor(extract(epoch FROM recorded_at) / 3600) * 3600000)::int8 AS hour_ms, sum(gpu_seconds)::float8 AS gpu_seconds, sum(gpu_cost_micros) AS cost
        FROM ledger_transactions
       WHERE kind = 'usage' AND pool = ANY(${sql.array([...new Set(todo.map((h) => h.pool))])}::text[])
         AND recorded_at >= ${new Date(Math.min(...todo.map((h) => Number(h.hour_ms))))} AND recorded_at < ${new Date(cutoff)}
       GROUP BY 1, 2`;
    const usedBy = new Map(used.map((u) => [`${u.pool}\u0000${u.hour_ms}`, u]));
    const accruals = todo.map((h) => {
      const pool = deps.pools.get(h.pool)!;
      const u = usedBy.get(`${h.pool}\u0000${h.hour_ms}`);
      const a = idleAccrual({
        pool: h.pool,
        workerMinutes: Number(h.worker_minutes),
        usedGpuSeconds: u?.gpu_seconds ?? 0,
        usedCostMicros: Number(u?.cost ?? 0),
        cost: poolCostModel({ ...pool, id: h.pool }),
      });
      return { pool: h.pool, provider: pool.provider, hourMs: Number(h.hour_ms), workerMinutes: Number(h.worker_minutes), ...a };
    });
    const posted = await retryConflicts(() =>
      sql.begin(async (tx) => {
        const specs = new Map<string, string>();
        for (const a of accruals) {
          specs.set(accounts.gpuIdle(a.pool), 'gpu_idle');
          specs.set(accounts.gpuPayable(a.provider), 'gpu_payable');
        }
        const ordered = [...specs.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
        await tx`
          INSERT INTO accounts (id, tenant, kind)
          SELECT id, NULL, kind FROM unnest(${tx.array(ordered.map(([id]) => id))}::text[], ${tx.array(ordered.map(([, k]) => k))}::text[]) AS a(id, kind)
           ORDER BY id
          ON CONFLICT (id) DO NOTHING`;
        const col = <T>(f: (a: (typeof accruals)[number]) => T) => tx.array(accruals.map(f) as never[]);
        // gpu_seconds and gpu_cost_micros hold what was provisioned, amount_micros the idle part accrued (reconcile checks both).
        const rows = await tx<{ id: string; external_id: string }[]>`
          INSERT INTO ledger_transactions (kind, external_id, pool, gpu_seconds, gpu_cost_micros, amount_micros, recorded_at, memo)
          SELECT 'gpu_idle', * FROM unnest(${col((a) => idleExternalId(a.pool, a.hourMs))}::text[], ${col((a) => a.pool)}::text[],
                 ${col((a) => a.provisionedGpuSeconds)}::float8[], ${col((a) => a.provisionedCostMicros)}::int8[], ${col((a) => a.idleCostMicros)}::int8[],
                 ${col((a) => new Date(a.hourMs).toISOString())}::timestamptz[],
                 ${col((a) => `${a.workerMinutes} worker-minutes provisioned, ${a.provisionedGpuSeconds - a.idleGpuSeconds} GPU-s used by requests, ${a.idleGpuSeconds} GPU-s idle`)}::text[])
          ON CONFLICT (external_id) WHERE external_id IS NOT NULL DO NOTHING
          RETURNING id, external_id`;
        if (!rows.length) return 0;
        const byId = new Map(accruals.map((a) => [idleExternalId(a.pool, a.hourMs), a]));
        const e = rows.flatMap((r) => {
          const a = byId.get(r.external_id)!;
          return [
            [r.id, accounts.gpuIdle(a.pool), 'debit', a.idleCostMicros],
            [r.id, accounts.gpuPayable(a.provider), 'credit', a.idleCostMicros],
          ] as const;
        });
        await tx`
          INSERT INTO ledger_entries (transaction_id, account_id, side, amount_micros)
          SELECT * FROM unnest(${tx.array(e.map((x) => x[0]))}::int8[], ${tx.array(e.map((x) => x[1]))}::text[], ${tx.array(e.map((x) => x[2]))}::text[],
                               ${tx.array(e.map((x) => x[3]))}::int8[])`;
        return rows.length;
      }),
    );
    if (posted) deps.logger.info({ posted }, 'idle GPU time accrued');
    return posted;
  }

  return {
    sample,
    accrue,
    async start() {
      if (!deps.poolsKv) return;
      watch = await watchHeartbeats(deps.poolsKv);
      timer = setInterval(() => void sample().catch((e) => deps.logger.warn({ err: e }, 'fleet not sampled')), deps.sampleEveryMs ?? 10_000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await watch?.stop();
    },
  };
}

export type FleetAccrual = ReturnType<typeof createFleetAccrual>;

export interface PoolMonth {
  readonly pool: string;
  readonly provider: string;
  readonly capacityClass: string;
  readonly provisionedGpuSeconds: number;
  readonly usedGpuSeconds: number;
  readonly utilization: number;
  readonly provisionedCostMicros: number;
  readonly usedCostMicros: number;
  readonly idleCostMicros: number;
  /** `gpu-hour` or `per-token` (see `poolCostModel`); empty for a pool not in the pools file. */
  readonly costBasis: string;
}

const UNPRICED: PoolCostModel = { kind: 'gpu-hour', pricePerGpuHour: 0 };

/**
 * Each pool's month: GPU time provisioned (sampled worker-minutes) against GPU time used by
 * requests (posted usage), the provisioned cost at the pool's price, the usage's GPU cost,
 * and the idle cost accrued into the ledger for the month's closed hours. A per-token pool
 * shows what its tokens cost as used, and nothing provisioned or idle.
 */
export async function fleetReport(sql: Sql, pools: ReadonlyMap<string, PoolCost>, period: Period): Promise<PoolMonth[]> {
  const [start, end] = [new Date(period.startMs), new Date(period.endMs)];
  const [provisioned, used] = await Promise.all([
    sql<{ pool: string; n: string }[]>`SELECT pool, count(*) AS n FROM fleet_minutes WHERE minute >= ${start} AND minute < ${end} GROUP BY pool`,
    sql<{ pool: string; gpu_seconds: number; cost: string; idle: string }[]>`
      SELECT pool, coalesce(sum(gpu_seconds) FILTER (WHERE kind = 'usage'), 0)::float8 AS gpu_seconds,
             coalesce(sum(gpu_cost_micros) FILTER (WHERE kind = 'usage'), 0) AS cost,
             coalesce(sum(amount_micros) FILTER (WHERE kind = 'gpu_idle'), 0) AS idle
        FROM ledger_transactions WHERE kind IN ('usage', 'gpu_idle') AND recorded_at >= ${start} AND recorded_at < ${end}
       GROUP BY pool`,
  ]);
  const minutes = new Map(provisioned.map((p) => [p.pool, Number(p.n)]));
  const usage = new Map(used.map((u) => [u.pool, u]));
  const ids = [...new Set([...pools.keys(), ...minutes.keys(), ...usage.keys()])].sort();
  return ids.map((id) => {
    const pool = pools.get(id);
    const u = usage.get(id);
    const cost = pool ? poolCostModel({ ...pool, id }) : UNPRICED;
    const a = idleAccrual({
      pool: id,
      workerMinutes: minutes.get(id) ?? 0,
      usedGpuSeconds: u?.gpu_seconds ?? 0,
      usedCostMicros: Number(u?.cost ?? 0),
      cost,
    });
    return {
      pool: id,
      provider: pool?.provider ?? '',
      capacityClass: pool?.capacityClass ?? '',
      provisionedGpuSeconds: a.provisionedGpuSeconds,
      usedGpuSeconds: u?.gpu_seconds ?? 0,
      utilization: a.utilization,
      provisionedCostMicros: a.provisionedCostMicros,
      usedCostMicros: Number(u?.cost ?? 0),
      idleCostMicros: Number(u?.idle ?? 0),
      costBasis: pool ? cost.kind : '',
    };
  });
}

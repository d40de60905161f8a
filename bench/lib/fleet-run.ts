/**
 * One replay of planned requests against a simulated fleet under one placement policy: a
 * private NATS, the real scheduler, batcher and worker simulator (simulated time at `speed`),
 * requests published straight onto REQUESTS (admission and billing left out), outcomes read
 * back from LIFECYCLE and USAGE. `bench:scheduling` and `bench:prefix` both run on it.
 */
import { createBatcher } from '@switchyard/batcher';
import { BATCHING_BUCKET, DeliverPolicy, connectBus, jetstream, openBucket, provisionStreams, publishEvent, type NatsConnection } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { buckets, decodeEvent, makeEvent, streams, subjects, tierFromName, type RequestSpec, type TierName } from '@switchyard/contracts';
import { createScheduler, defaultScheduling, type PolicyName, type Route, type StepModel } from '@switchyard/scheduler';
import { createLogger } from '@switchyard/telemetry';
import { startNats } from '@switchyard/testing';
import { createWorkerSimulator } from '@switchyard/worker-simulator';
import { fmt, percentile } from './stats.js';

/** A GPU-hour pool: reports price the GPU time requests used. */
export type GpuPool = PoolSpec & { pricePerGpuHour: number };
export const gpuPool = (p: Omit<GpuPool, 'tiers'> & Partial<Pick<PoolSpec, 'tiers'>>): GpuPool => ({ tiers: ['realtime', 'internal', 'batch'], ...p });

export const TIER_NAMES = ['realtime', 'internal', 'batch'] as const;

export interface Planned {
  readonly id: string;
  readonly simAtMs: number;
  readonly tier: TierName;
  readonly model: string;
  readonly prompt: number;
  readonly output: number;
  /** The prompt's chained block hashes, as admission would send them. */
  readonly prefix?: { readonly hashes: readonly number[]; readonly blockTokens: number };
}

export interface Outcome {
  readonly outcome: string;
  readonly ttftMs?: number;
  readonly gpuMs?: number;
  readonly pool?: string;
  readonly inputTokens?: number;
  readonly cachedTokens?: number;
}

export interface FleetRun {
  readonly fleet: readonly GpuPool[];
  readonly routes: Record<string, Route>;
  /** Tier objectives in simulated ms: realtime and internal by TTFT, batch by finishing. */
  readonly slo: Readonly<Record<TierName, number>>;
  /** Deadlines in simulated ms. */
  readonly deadline: Readonly<Record<TierName, number>>;
  /** Simulated time per real time. */
  readonly speed: number;
  /** Tokens per chunk the workers stream. */
  readonly chunkTokens?: number;
}

/** Every event on a stream, from its first message. */
export async function readAll(nc: NatsConnection, stream: string) {
  const consumer = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const total = (await consumer.info()).num_pending;
  const out: ReturnType<typeof decodeEvent>[] = [];
  if (total === 0) return out;
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push(decodeEvent(m.data));
    if (out.length >= total) break;
  }
  await messages.close();
  return out;
}

const outcomeOf = (o: number): Outcome => ({ outcome: ['?', 'completed', 'failed', 'cancelled', 'expired', 'rejected'][o] ?? '?' });

/**
 * Replays `requests` under `policy`; resolves with each request's outcome, the replay's lag
 * behind the plan, and (with `explain`) per request the chosen candidate's reason.
 */
export async function runPolicy(run: FleetRun, policy: PolicyName, requests: readonly Planned[], models: ReadonlyMap<string, StepModel>, explain = false) {
  const nats = await startNats();
  const logger = createLogger({ service: 'bench', level: 'silent' });
  const connect = async (name: string) => {
    const nc = await connectBus({ url: nats.url, name });
    return { nc, js: jetstream(nc) };
  };
  const bench = await connect('bench');
  await provisionStreams(await bench.js.jetstreamManager(), Object.values(streams));
  const s = await connect('scheduler');
  const b = await connect('batcher');
  const w = await connect('workers');
  const scheduling = defaultScheduling({
    policy,
    speed: run.speed,
    routes: run.routes,
    tiers: {
      realtime: { ttftMs: run.slo.realtime, onOverload: 'shed', latencyWeight: 0.8 },
      internal: { ttftMs: run.slo.internal, onOverload: 'queue', latencyWeight: 0.5 },
      batch: { ttftMs: run.slo.batch, onOverload: 'wait', latencyWeight: 0.1, maxWaitMs: (run.slo.batch / run.speed) * 0.5 },
    },
  });
  const scheduler = createScheduler({
    ...s,
    pools: run.fleet,
    logger,
    config: scheduling,
    models,
    poolsKv: await openBucket(s.nc, buckets.pools, { ttl: 10_000 }),
  });
  const batcher = createBatcher({
    ...b,
    pools: run.fleet,
    logger,
    poolsKv: await openBucket(b.nc, buckets.pools, { ttl: 10_000 }),
    batchingKv: await openBucket(b.nc, buckets.batching, BATCHING_BUCKET),
  });
  const workers = createWorkerSimulator({
    ...w,
    pools: run.fleet,
    logger,
    instanceId: 'bench',
    speed: run.speed,
    chunkTokens: run.chunkTokens ?? 64,
    poolsKv: await openBucket(w.nc, buckets.pools, { ttl: 10_000 }),
  });
  await workers.start();
  await batcher.start();
  await scheduler.start();
  while (!scheduler.ops.listPools().every((p) => p.healthyWorkers === p.workers)) await new Promise((r) => setTimeout(r, 100));

  let ended = 0;
  const sub = bench.nc.subscribe('requests.*.*', { callback: () => void ended++ });
  const start = Date.now();
  const publishing: Promise<unknown>[] = [];
  for (const r of requests) {
    const due = start + r.simAtMs / run.speed;
    if (due > Date.now()) await new Promise((res) => setTimeout(res, due - Date.now()));
    const now = Date.now();
    const spec: RequestSpec = {
      requestId: r.id,
      tenant: 'bench',
      tier: tierFromName(r.tier),
      model: r.model,
      prompt: 'x',
      promptTokens: r.prompt,
      maxTokens: r.output,
      feature: 'bench',
      seed: 1,
      inbox: subjects.tokenInbox(r.id),
      relayInbox: '',
      replacedFrom: '',
      prefixHashes: r.prefix ? [...r.prefix.hashes] : [],
      prefixBlockTokens: r.prefix?.blockTokens ?? 0,
      traceparent: '',
      stop: [],
      deadlineUnixMs: now + run.deadline[r.tier] / run.speed,
      admittedUnixMs: now,
    };
    publishing.push(
      publishEvent(
        bench.js,
        subjects.requestAdmitted(r.tier, 'bench'),
        makeEvent({ id: `admitted-${r.id}`, tenant: 'bench', requestId: r.id, nowMs: now }, { $case: 'requestAdmitted', requestAdmitted: { request: spec } }),
      ),
    );
  }
  await Promise.all(publishing);
  const lagMs = Date.now() - start - requests.at(-1)!.simAtMs / run.speed;
  const drainUntil = Date.now() + 60_000;
  while (ended < requests.length && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 200));
  sub.unsubscribe();

  const outcomes = new Map<string, Outcome>();
  for (const e of await readAll(bench.nc, streams.LIFECYCLE.name)) {
    if (e.payload?.$case === 'requestTerminated') outcomes.set(e.payload.requestTerminated.requestId, outcomeOf(e.payload.requestTerminated.outcome));
  }
  for (const e of await readAll(bench.nc, streams.USAGE.name)) {
    if (e.payload?.$case !== 'usageRecorded') continue;
    const u = e.payload.usageRecorded;
    // The attempt that completed is the one reported; a failed earlier one only adds its GPU time.
    const before = outcomes.get(u.requestId) ?? { outcome: 'completed' };
    outcomes.set(u.requestId, {
      ...before,
      ttftMs: u.ttftMs,
      gpuMs: (before.gpuMs ?? 0) + u.gpuMs,
      pool: u.pool,
      inputTokens: u.usage?.inputTokens,
      cachedTokens: u.usage?.cachedInputTokens,
    });
  }
  const why = new Map<string, string>();
  if (explain) {
    for (const e of await readAll(bench.nc, streams.DECISIONS.name)) {
      if (e.payload?.$case === 'decision')
        why.set(e.envelope!.requestId, e.payload.decision.candidates.find((c) => c.reason.startsWith('chosen'))?.reason ?? e.payload.decision.reason);
    }
  }
  await scheduler.stop();
  await batcher.stop();
  await workers.stop();
  await Promise.all([bench, s, b, w].map((c) => c.nc.close()));
  await nats.dispose();
  return { outcomes, lagMs, why };
}

export interface TierFigures {
  readonly n: number;
  readonly met: number;
  readonly p50: number;
  readonly p99: number;
}

/** Per policy: goodput (requests within their tier's objective per simulated second), per tier TTFT, GPU time and cost. */
export function report(run: FleetRun, simSeconds: number, policy: PolicyName, requests: readonly Planned[], outcomes: ReadonlyMap<string, Outcome>) {
  const price = new Map(run.fleet.map((p) => [p.id, p.pricePerGpuHour]));
  const met = (r: Planned) => {
    const o = outcomes.get(r.id);
    return o?.outcome === 'completed' && o.ttftMs !== undefined && (r.tier === 'batch' || o.ttftMs <= run.slo[r.tier]);
  };
  const tiers = Object.fromEntries(
    TIER_NAMES.map((t) => {
      const rs = requests.filter((r) => r.tier === t);
      const ttfts = rs
        .flatMap((r) => (outcomes.get(r.id)?.outcome === 'completed' && outcomes.get(r.id)?.ttftMs !== undefined ? [outcomes.get(r.id)!.ttftMs!] : []))
        .sort((a, b) => a - b);
      return [t, { n: rs.length, met: rs.filter(met).length, p50: percentile(ttfts, 50), p99: percentile(ttfts, 99) }];
    }),
  ) as Record<TierName, TierFigures>;
  let gpuMs = 0;
  let cost = 0;
  let input = 0;
  let cached = 0;
  for (const o of outcomes.values()) {
    gpuMs += o.gpuMs ?? 0;
    cost += ((o.gpuMs ?? 0) / 3.6e6) * (price.get(o.pool ?? '') ?? 0);
    input += o.inputTokens ?? 0;
    cached += o.cachedTokens ?? 0;
  }
  const count = (what: string) => [...outcomes.values()].filter((o) => o.outcome === what).length;
  return {
    policy,
    goodput: requests.filter(met).length / simSeconds,
    realtimeGoodput: tiers.realtime.met / simSeconds,
    tiers,
    /** Share of completed requests' prompt tokens read from a prefix cache. */
    cacheHitRate: input > 0 ? cached / input : 0,
    gpuHours: gpuMs / 3.6e6,
    cost,
    rejected: count('rejected'),
    expired: count('expired'),
    failed: count('failed'),
    unfinished: requests.length - outcomes.size,
  };
}

export type PolicyReport = ReturnType<typeof report>;

/** The per-policy table; `tiers` are the columns of TTFT shown, `hitRate` adds the cache column. */
export function printTable(results: readonly PolicyReport[], tiers: readonly TierName[], hitRate: boolean): void {
  const pct = (t: { n: number; met: number }) => `${fmt((100 * t.met) / Math.max(1, t.n), 1)}%`;
  const ms = (v: number) => fmt(v, 0);
  const short = { realtime: 'RT', internal: 'IN', batch: 'BA' } as const;
  const rows = [
    [
      'policy',
      'goodput/s',
      'RT goodput/s',
      ...tiers.map((t) => `attain ${short[t]}`),
      ...tiers.map((t) => `TTFT ${short[t]} p50/p99`),
      ...(hitRate ? ['cache hit'] : []),
      'GPU-h',
      'cost $',
      'shed',
      'expired',
    ],
    ...results.map((r) => [
      r.policy,
      fmt(r.goodput, 2),
      fmt(r.realtimeGoodput, 2),
      ...tiers.map((t) => pct(r.tiers[t])),
      ...tiers.map((t) => `${ms(r.tiers[t].p50)}/${ms(r.tiers[t].p99)}`),
      ...(hitRate ? [`${fmt(100 * r.cacheHitRate, 1)}%`] : []),
      fmt(r.gpuHours, 3),
      fmt(r.cost, 3),
      String(r.rejected),
      String(r.expired + r.failed + r.unfinished),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}

/** Deterministic uniform draws, so every policy sees the very same requests. */
export function mulberry32(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

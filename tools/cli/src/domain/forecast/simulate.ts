import { createTenantTurns, type TenantTurns } from '@switchyard/batcher';
import type { PoolSpec } from '@switchyard/config';
import { TIER_RANK, type TierName, type WorkerHeartbeat } from '@switchyard/contracts';
import type { PerfModel } from '@switchyard/perf-model';
import { createLoadTracker, placeRequest, poolStates, type FleetView, type SchedulingConfig } from '@switchyard/scheduler';
import { createEngine, type Engine, type StepReport } from '@switchyard/worker-simulator';
import { seededRandom } from '../tier-mix.js';

/** One request of the forecast, arriving at `arrivalMs` simulated ms after the start. */
export interface SimRequest {
  readonly index: number;
  readonly tier: TierName;
  readonly tenant: string;
  readonly feature: string;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly arrivalMs: number;
}

export interface SimulateInput {
  /** Simulated pools only (the worker simulator's); `workers` is what the simulation provisions. */
  readonly pools: readonly PoolSpec[];
  /** Step times of each pool's model on its GPU, by pool id: the engines run on them and placement predicts with them. */
  readonly perf: ReadonlyMap<string, PerfModel>;
  readonly scheduling: SchedulingConfig;
  /** The model version every request asks for. */
  readonly model: string;
  /** Sorted by arrival. */
  readonly requests: readonly SimRequest[];
  /** Seed of placement's draws (power of two choices). */
  readonly seed: number;
  /**
   * Admission's pacing (`TENANT_IN_FLIGHT`): calls of one tenant and tier running at once; later
   * ones wait in admission, first come first served, and their wait counts in their TTFT.
   * Undefined: no pacing.
   */
  readonly inFlightPerTenant?: Readonly<Record<TierName, number>>;
  /** Requests still open this long after the last arrival are counted failed. Default 3,600,000 (an hour). */
  readonly drainLimitMs?: number;
}

export type SimOutcome = 'completed' | 'rejected' | 'failed';

export interface RequestOutcome {
  readonly request: SimRequest;
  readonly outcome: SimOutcome;
  readonly reason?: string;
  readonly pool?: string;
  readonly ttftMs?: number;
  readonly e2eMs?: number;
  readonly outputTokens: number;
  /** How long it waited in admission's per-tenant pacing before placement; 0 when it went straight through. */
  readonly admissionWaitMs?: number;
}

export interface PoolRun {
  readonly pool: PoolSpec;
  /** GPU ms the pool's engines spent stepping, all workers together. */
  readonly busyMs: number;
  /** Slot ms occupied: each step's duration times the sequences in it, all workers together. */
  readonly occupiedSlotMs: number;
}

export interface SimResult {
  /** Per request, in the order of `requests`. */
  readonly outcomes: readonly RequestOutcome[];
  readonly pools: readonly PoolRun[];
  /** Simulated ms from 0 to the last event (the last arrival or the last step's end). */
  readonly endMs: number;
}

interface SimWorker {
  readonly pool: PoolSpec;
  readonly id: string;
  readonly engine: Engine;
  /** The step under way; its tokens and endings take effect at its `endMs`. */
  step: StepReport | undefined;
  busyMs: number;
  occupiedSlotMs: number;
  /** Recent step time and TTFT as the heartbeat reports them (moving averages). */
  stepMs: number;
  ttftMs: number;
}

interface Queued {
  readonly request: SimRequest;
  readonly id: string;
  /** Its turn among its tier's tenants, as the batcher books it. */
  readonly turn: number;
}

/** Weight of the newest sample in a worker's recent step time and TTFT. */
const RECENT = 0.1;
/** The worker pulls nothing while its KV cache is this full, as the real worker's intake. */
const KV_FULL = 0.95;

/** A worker's room for more sequences, as the real worker computes it before pulling a batch. */
const room = (w: SimWorker) => {
  const load = w.engine.load();
  return load.kvUsed >= KV_FULL ? 0 : load.freeSlots;
};

/**
 * Replays requests against a simulated fleet in simulated time, with the platform's own pieces:
 * admission's per-tenant pacing lets each request through (or holds it until one of its tenant's
 * calls of that tier ends), the scheduler's `placeRequest` decides (shed, queue, wait, as each tier says) from a fleet view
 * built as the scheduler builds it (fresh heartbeats folded by `poolStates`, a load tracker of
 * what is outstanding, prefill backlog), each pool's queue hands requests to its workers (the one
 * with most room first) in the batcher's order, by tier and then the tier's tenants in turns, and
 * each worker is the simulator's continuous-batching engine. Events are arrivals, retries of waiting requests and step ends;
 * the next is always the earliest, so nothing depends on wall time.
 */
export function simulate(input: SimulateInput): SimResult {
  const { pools, perf, scheduling, requests } = input;
  const workers: SimWorker[] = pools.flatMap((pool) => {
    const model = perf.get(pool.id);
    if (!model) throw new Error(`no performance model for pool ${pool.id}`);
    return Array.from({ length: pool.workers }, (_, i) => ({
      pool,
      id: `${pool.id}-w${i}`,
      engine: createEngine({ perf: model, kvCapacityTokens: model.kvCapacityTokens(), maxRunning: pool.slotsPerWorker, maxBatchTokens: pool.maxBatchTokens }),
      step: undefined,
      busyMs: 0,
      occupiedSlotMs: 0,
      stepMs: 0,
      ttftMs: 0,
    }));
  });
  const byPool = new Map(pools.map((p) => [p.id, workers.filter((w) => w.pool.id === p.id)]));
  const queues = new Map<string, Queued[]>(pools.map((p) => [p.id, []]));
  const tenantTurns = new Map<string, TenantTurns>(pools.map((p) => [p.id, createTenantTurns()]));
  const tracker = createLoadTracker({ maxAgeMs: Number.POSITIVE_INFINITY });
  const outcomes: Array<RequestOutcome | undefined> = new Array<RequestOutcome | undefined>(requests.length);
  const open = new Map<string, { request: SimRequest; pool: string; firstTokenMs?: number }>();
  /** Admission's pacing wait of each request let through late, by index. */
  const admissionWaits = new Map<number, number>();
  const random = seededRandom(input.seed);
  const turns = new Map<string, number>();
  const ctx = {
    config: scheduling,
    policy: scheduling.policy,
    random,
    turn: (key: string) => {
      const n = turns.get(key) ?? 0;
      turns.set(key, n + 1);
      return n;
    },
  };
  /** Requests holding out for idle capacity (a `wait` tier), by when they ask again; kept sorted. */
  const waits: Array<{ atMs: number; request: SimRequest; admittedMs: number }> = [];
  /** Admission's pacing per tenant and tier: calls running, and those waiting for one to end. */
  const gates = new Map<string, { running: number; readonly waiting: SimRequest[] }>();
  /** Requests a call's end let through the gate, placed once the event that ended it is handled. */
  const letThrough: SimRequest[] = [];
  const gateOf = (r: SimRequest) => {
    const key = `${r.tenant}\u0000${r.tier}`;
    let gate = gates.get(key);
    if (!gate) gates.set(key, (gate = { running: 0, waiting: [] }));
    return gate;
  };
  let next = 0;
  let now = 0;

  const heartbeat = (w: SimWorker): WorkerHeartbeat => {
    const load = w.engine.load();
    return {
      pool: w.pool.id,
      worker: w.id,
      running: load.running,
      waiting: load.waiting,
      freeSlots: room(w),
      kvUsed: load.kvUsed,
      freeKvTokens: load.freeKvTokens,
      stepMs: w.stepMs,
      ttftMs: w.ttftMs,
      draining: false,
      atUnixMs: now,
    };
  };
  const view = (): FleetView => {
    const states = poolStates(workers.map(heartbeat), now, { staleMs: 1 });
    return {
      pools,
      models: perf,
      states,
      outstanding: tracker.of,
      drained: new Set(),
      prefillBacklogMs: (pool) => tracker.prefillBacklog(pool, now, Math.max(1, states.get(pool)?.healthyWorkers ?? 1) * scheduling.speed),
    };
  };

  const end = (request: SimRequest, o: Omit<RequestOutcome, 'request'>) => {
    const waited = admissionWaits.get(request.index);
    outcomes[request.index] = waited === undefined ? { request, ...o } : { request, ...o, admissionWaitMs: waited };
    if (!input.inFlightPerTenant || stopped) return;
    const gate = gateOf(request);
    const next = gate.waiting.shift();
    if (next) letThrough.push(next);
    else gate.running--;
  };
  /** An arrival at admission: through the gate to placement, or waiting at it. */
  const arrive = (request: SimRequest) => {
    const limit = input.inFlightPerTenant?.[request.tier];
    if (limit === undefined) return place(request, now);
    const gate = gateOf(request);
    if (gate.running < limit) {
      gate.running++;
      place(request, now);
    } else gate.waiting.push(request);
  };
  const start = (w: SimWorker) => {
    w.step = w.engine.step(now);
    if (!w.step) return;
    w.busyMs += w.step.durationMs;
    // The engine has already let go of the sequences this step finishes; they ran in it all the same.
    w.occupiedSlotMs += w.step.durationMs * (w.engine.load().running + w.step.finished.length);
  };
  /**
   * Hands the pool's queue to its workers while any has room, as the batcher orders it: realtime
   * before internal before batch, the tenants of a tier in turns, then by arrival.
   */
  const feed = (poolId: string) => {
    const queue = queues.get(poolId)!;
    while (queue.length > 0) {
      const w = byPool.get(poolId)!.reduce<SimWorker | undefined>((best, x) => (room(x) > 0 && (!best || room(x) > room(best)) ? x : best), undefined);
      if (!w) return;
      let pick = 0;
      for (let i = 1; i < queue.length; i++) {
        const [a, b] = [queue[i]!, queue[pick]!];
        if ((TIER_RANK[a.request.tier] - TIER_RANK[b.request.tier] || a.turn - b.turn) < 0) pick = i;
      }
      const [{ request, id, turn }] = queue.splice(pick, 1) as [Queued];
      tenantTurns.get(poolId)!.served(request.tier, turn);
      const accepted = w.engine.enqueue({ id, promptTokens: request.promptTokens, maxTokens: request.maxTokens, arrivalMs: request.arrivalMs });
      if (!accepted.ok) {
        tracker.ended(id);
        open.delete(id);
        end(request, { outcome: 'failed', reason: accepted.reason, pool: poolId, outputTokens: 0 });
        continue;
      }
      if (!w.step) start(w);
    }
  };
  /** Placement of a request admission let through at `admittedMs` (its age counts from there). */
  const place = (request: SimRequest, admittedMs: number) => {
    if (admittedMs > request.arrivalMs) admissionWaits.set(request.index, admittedMs - request.arrivalMs);
    const placement = placeRequest(
      {
        tenant: request.tenant,
        tier: request.tier,
        version: input.model,
        promptTokens: request.promptTokens,
        maxTokens: request.maxTokens,
        ageMs: now - admittedMs,
      },
      view(),
      ctx,
    );
    if (placement.kind === 'reject') return end(request, { outcome: 'rejected', reason: placement.reason, outputTokens: 0 });
    if (placement.kind === 'wait') {
      // Every simulated worker is healthy, so only a `wait` tier holding out for capacity waits.
      const atMs = now + Math.max(1, placement.retryAfterMs);
      const i = waits.findIndex((x) => x.atMs > atMs);
      waits.splice(i < 0 ? waits.length : i, 0, { atMs, request, admittedMs });
      return;
    }
    const id = `r${request.index}`;
    tracker.dispatched(
      id,
      placement.pool,
      request.tier,
      request.promptTokens,
      request.maxTokens,
      now,
      perf.get(placement.pool)!.prefillMs(Math.max(1, request.promptTokens)),
      request.tenant,
    );
    open.set(id, { request, pool: placement.pool });
    queues.get(placement.pool)!.push({ request, id, turn: tenantTurns.get(placement.pool)!.book(request.tenant, request.tier) });
    feed(placement.pool);
  };
  const stepEnded = (w: SimWorker) => {
    const step = w.step!;
    w.step = undefined;
    w.stepMs = w.stepMs === 0 ? step.durationMs : w.stepMs + RECENT * (step.durationMs - w.stepMs);
    for (const t of step.tokens) {
      if (t.index !== 0) continue;
      const o = open.get(t.id);
      if (!o) continue;
      o.firstTokenMs = step.endMs;
      const ttft = step.endMs - o.request.arrivalMs;
      w.ttftMs = w.ttftMs === 0 ? ttft : w.ttftMs + RECENT * (ttft - w.ttftMs);
    }
    for (const f of step.finished) {
      const o = open.get(f.id)!;
      open.delete(f.id);
      tracker.ended(f.id);
      end(o.request, {
        outcome: 'completed',
        pool: o.pool,
        ttftMs: f.firstTokenMs! - f.arrivalMs,
        e2eMs: f.finishMs - f.arrivalMs,
        outputTokens: f.outputTokens,
      });
    }
    feed(w.pool.id);
    if (!w.step) start(w);
  };

  /** Set once the clock stops: what is left is counted, and no gate lets anything through. */
  let stopped = false;
  const lastArrival = requests.at(-1)?.arrivalMs ?? 0;
  const stopAt = lastArrival + (input.drainLimitMs ?? 3_600_000);
  for (;;) {
    let soonest: SimWorker | undefined;
    for (const w of workers) if (w.step && (!soonest || w.step.endMs < soonest.step!.endMs)) soonest = w;
    const stepAt = soonest?.step!.endMs ?? Number.POSITIVE_INFINITY;
    const waitAt = waits[0]?.atMs ?? Number.POSITIVE_INFINITY;
    const arriveAt = requests[next]?.arrivalMs ?? Number.POSITIVE_INFINITY;
    const at = Math.min(stepAt, waitAt, arriveAt);
    if (at === Number.POSITIVE_INFINITY || at > stopAt) break;
    now = at;
    // Step ends first: a request arriving at the very moment a slot frees sees the free slot.
    if (stepAt === at) stepEnded(soonest!);
    else if (waitAt === at) {
      const w = waits.shift()!;
      place(w.request, w.admittedMs);
    } else arrive(requests[next++]!);
    // Placing one may end it (refused) and let the next through: a queue, not recursion.
    while (letThrough.length > 0) place(letThrough.shift()!, now);
  }
  stopped = true;
  for (const { request, pool } of open.values())
    end(request, { outcome: 'failed', reason: 'still running when the simulation stopped', pool, outputTokens: 0 });
  for (const { request } of waits) end(request, { outcome: 'failed', reason: 'still waiting when the simulation stopped', outputTokens: 0 });
  for (const request of [...letThrough, ...[...gates.values()].flatMap((g) => g.waiting)])
    outcomes[request.index] = { request, outcome: 'failed', reason: 'still waiting in admission when the simulation stopped', outputTokens: 0 };
  for (; next < requests.length; next++) end(requests[next]!, { outcome: 'failed', reason: 'not sent before the simulation stopped', outputTokens: 0 });
  return {
    outcomes: outcomes.map((o, i) => o ?? { request: requests[i]!, outcome: 'failed', reason: 'lost by the simulation', outputTokens: 0 }),
    pools: pools.map((pool) => {
      const of = byPool.get(pool.id)!;
      return { pool, busyMs: of.reduce((a, w) => a + w.busyMs, 0), occupiedSlotMs: of.reduce((a, w) => a + w.occupiedSlotMs, 0) };
    }),
    endMs: Math.max(now, lastArrival),
  };
}

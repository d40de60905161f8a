import {
  consumeDurable,
  followEvents,
  openBucket,
  publishDecision,
  publishEvent,
  publishTerminal,
  terminalOf,
  watchHeartbeats,
  type Delivery,
  type Disposition,
  type HeartbeatWatch,
  type JetStreamClient,
  type KV,
  type NatsConnection,
  type RunningConsumer,
  type Subscription,
} from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import {
  DomainError,
  Outcome,
  buckets,
  expectPayload,
  filters,
  makeEvent,
  streams,
  subjects,
  tierName,
  type Candidate,
  type Event,
  type RequestSpec,
  type TierName,
} from '@switchyard/contracts';
import type { Logger, Registry } from '@switchyard/telemetry';
import { createCanaryController, type CanaryController } from './canary/controller.js';
import { DEFAULT_ROUTES, defaultScheduling, type SchedulingConfig } from './config.js';
import { createFailover, type Failover, type FailoverStage } from './placement/failover.js';
import { createLoadTracker } from './placement/domain/load-tracker.js';
import { createSchedulerMetrics } from './metrics.js';
import { createOpsView, type OpsView } from './ops/view.js';
import { PLACEMENT_RECORD_TTL_MS, placementRecords, type PlacementRecords, type RecordedRejection } from './placement/records.js';
import { placeRequest, poolVersion, type FleetView, type PlacementContext } from './placement/domain/placement.js';
import { poolStates, type PoolState } from './placement/domain/pool-state.js';
import { openRouteStore, type RouteStore } from './ops/routes-store.js';
import { resolveModel } from './placement/domain/routing.js';
import { loadStepModels, type StepModel } from './placement/step-models.js';

export interface SchedulerDeps {
  readonly js: JetStreamClient;
  /** Core NATS: the scheduler sees every dispatch and terminal event as it happens. */
  readonly nc: NatsConnection;
  readonly poolsKv: KV;
  readonly pools: readonly PoolSpec[];
  readonly logger: Logger;
  /** Tiers, policy, routes, residency, canary thresholds. Default: every default. */
  readonly config?: SchedulingConfig;
  /** The `routes` bucket; opened from `nc` when absent. */
  readonly routesKv?: KV;
  /** The batcher's `batching` bucket (failover releases its claims); opened from `nc` when absent. */
  readonly batchingKv?: KV;
  /** The `placements` bucket (rejections per request); opened from `nc` when absent. */
  readonly placementsKv?: KV;
  /** Step-time model per pool id; default: the simulator's model from the measured profiles. */
  readonly models?: ReadonlyMap<string, StepModel>;
  readonly registry?: Registry;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Overrides `config.staleAfterMs`. */
  readonly staleAfterMs?: number;
  /** How long a request may wait for a healthy pool before it is rejected. Default 5 s. */
  readonly maxWaitMs?: number;
  /** How often dead pools are swept for requests to move. Default 500 ms. */
  readonly sweepIntervalMs?: number;
}

const WAIT_STEP_MS = 250;

/**
 * Consumes admitted requests, resolves their model through the routes and places each on a
 * pool (DISPATCH), explaining every decision; sheds what no pool can serve in time, moves work
 * off pools whose heartbeats stop, and rolls back canaries that misbehave.
 */
export function createScheduler(deps: SchedulerDeps) {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const config = deps.config ?? defaultScheduling();
  const staleAfterMs = deps.staleAfterMs ?? config.staleAfterMs;
  const maxWaitMs = deps.maxWaitMs ?? 5_000;
  const metrics = createSchedulerMetrics(deps.registry);
  const tracker = createLoadTracker();
  const poolsById = new Map(deps.pools.map((p) => [p.id, p]));
  const turns = new Map<string, number>();
  const moved: Record<FailoverStage, number> = { queued: 0, batched: 0 };
  const subscriptions: Subscription[] = [];
  const timers: NodeJS.Timeout[] = [];
  let watch: HeartbeatWatch | undefined;
  let consumer: RunningConsumer | undefined;
  let routeStore: RouteStore | undefined;
  let canary: CanaryController | undefined;
  let failover: Failover | undefined;
  let models: ReadonlyMap<string, StepModel> = deps.models ?? new Map();
  let startedAt = 0;
  let cached: { at: number; states: Map<string, PoolState> } | undefined;
  let ops: OpsView | undefined;
  let records: PlacementRecords | undefined;

  const states = (): Map<string, PoolState> => {
    const t = now();
    if (!cached || t - cached.at > 20) cached = { at: t, states: poolStates(watch!.heartbeats(), t, { staleMs: staleAfterMs }) };
    return cached.states;
  };
  const fleet = (exclude?: ReadonlySet<string>): FleetView => ({
    pools: deps.pools,
    models,
    states: states(),
    outstanding: tracker.of,
    drained: new Set(routeStore!.drained().keys()),
    exclude,
    prefillBacklogMs: (pool) => tracker.prefillBacklog(pool, now(), Math.max(1, states().get(pool)?.healthyWorkers ?? 1) * config.speed),
  });
  /** GPU time of a prompt on a pool, for its prefill backlog. */
  const prefillMs = (pool: string, promptTokens: number) => models.get(pool)?.prefillMs(Math.max(1, promptTokens)) ?? 0;
  const ctx: PlacementContext = {
    config,
    policy: config.policy,
    random,
    turn: (key) => {
      const n = turns.get(key) ?? 0;
      turns.set(key, n + 1);
      return n;
    },
  };

  const dispatch = async (spec: RequestSpec, pool: PoolSpec, id: string, nowMs: number) => {
    const tier = tierName(spec.tier) ?? 'batch';
    tracker.dispatched(spec.requestId, pool.id, tier, spec.promptTokens, spec.maxTokens, nowMs, prefillMs(pool.id, spec.promptTokens));
    metrics.placed.inc({ pool: pool.id, tier, policy: config.policy });
    await publishEvent(
      deps.js,
      subjects.dispatch(pool.id),
      makeEvent(
        { id, tenant: spec.tenant, requestId: spec.requestId, nowMs },
        {
          $case: 'requestDispatched',
          requestDispatched: { request: { ...spec, model: pool.model }, pool: pool.id },
        },
      ),
    );
  };

  const publishRejection = (request: RequestSpec, reason: string, retryAfterMs: number) =>
    publishTerminal(
      deps.js,
      terminalOf({ requestId: request.requestId, tenant: request.tenant, outcome: Outcome.OUTCOME_REJECTED, reason, retryAfterMs }),
      now(),
    );

  const reject = async (request: RequestSpec, tier: TierName, reason: string, retryAfterMs: number, candidates: Candidate[], kind: string) => {
    const { tenant, requestId } = request;
    // Another delivery of this request may have rejected it first: repeat that, word for word.
    const earlier = await records!.claimRejection(requestId, { reason, retryAfterMs });
    if (earlier) return repeatRejection(request, earlier);
    metrics.rejected.inc({ tier, kind });
    publishDecision(deps.nc, 'scheduler', tenant, requestId, { action: 'reject', reason, candidates }, now());
    await publishRejection(request, reason, retryAfterMs);
  };

  /** A rejection on record may have died before its publish; publishing it again is dropped by msgID if not. */
  const repeatRejection = async (request: RequestSpec, earlier: RecordedRejection) => {
    metrics.redecided.inc({ decision: 'rejected' });
    await publishRejection(request, earlier.reason, earlier.retryAfterMs);
  };

  async function handle({ event, deliveryCount }: Delivery): Promise<Disposition | void> {
    const request = expectPayload(event, 'requestAdmitted').requestAdmitted.request;
    if (!request) throw new DomainError('INVALID_ARGUMENT', 'admitted event without a request');
    const tier = tierName(request.tier);
    if (!tier) throw new DomainError('INVALID_ARGUMENT', `request ${request.requestId} has no tier`);
    const { tenant, requestId, promptTokens, maxTokens } = request;
    const redelivered = deliveryCount > 1;
    if (redelivered) {
      const earlier = await records!.rejection(requestId);
      if (earlier) return repeatRejection(request, earlier);
    }
    const nowMs = now();
    const ageMs = request.admittedUnixMs > 0 ? Math.max(0, nowMs - request.admittedUnixMs) : 0;
    const route = resolveModel(request.model, { promptTokens, maxTokens, tier }, routeStore!.routes(), random());
    if (route.kind === 'unknown') return reject(request, tier, route.reason, 0, [], 'unknown-model');
    let placement = placeRequest({ tenant, tier, version: route.version, promptTokens, maxTokens, ageMs }, fleet(), ctx);
    if (redelivered && placement.kind === 'reject' && placement.retryAfterMs > 0) {
      // An earlier delivery may have dispatched it (dispatches leave no record): shedding could
      // contradict that, while a second dispatch is dropped by its msgID.
      placement = placeRequest({ tenant, tier, version: route.version, promptTokens, maxTokens, ageMs, mustPlace: true }, fleet(), ctx);
    }
    if (placement.kind === 'wait') {
      const waited = request.admittedUnixMs > 0 ? ageMs : deliveryCount * WAIT_STEP_MS;
      if (placement.waitFor === 'capacity' || waited < maxWaitMs) {
        metrics.deferred.inc({ tier });
        return { kind: 'nak', delayMs: placement.waitFor === 'health' ? WAIT_STEP_MS : placement.retryAfterMs };
      }
      return reject(request, tier, placement.reason, 1_000, placement.candidates, 'no-healthy-pool');
    }
    if (placement.kind === 'reject') {
      return reject(request, tier, placement.reason, placement.retryAfterMs, placement.candidates, placement.retryAfterMs > 0 ? 'shed' : 'no-pool');
    }
    if (placement.prediction) metrics.predictedTtft.observe({ tier }, placement.prediction.ttftMs / 1000);
    const reason = route.via.length ? `${route.reason}; ${placement.reason}` : placement.reason;
    await dispatch(request, poolsById.get(placement.pool)!, `dispatch-${requestId}`, nowMs);
    publishDecision(deps.nc, 'scheduler', tenant, requestId, { action: 'place', reason, chosen: placement.pool, candidates: placement.candidates }, nowMs);
  }

  /** Failover: places a request found on dead pool `from` somewhere else. */
  async function replace(spec: RequestSpec, from: string, stage: FailoverStage, dispatchId: string): Promise<string | undefined> {
    const tier = tierName(spec.tier) ?? 'batch';
    const nowMs = now();
    const ageMs = spec.admittedUnixMs > 0 ? Math.max(0, nowMs - spec.admittedUnixMs) : 0;
    const placement = placeRequest(
      { tenant: spec.tenant, tier, version: '', anyVersionOf: spec.model, promptTokens: spec.promptTokens, maxTokens: spec.maxTokens, ageMs, mustPlace: true },
      fleet(new Set([from])),
      ctx,
    );
    if (placement.kind !== 'placed') return undefined;
    await dispatch(spec, poolsById.get(placement.pool)!, dispatchId, nowMs);
    publishDecision(
      deps.nc,
      'scheduler',
      spec.tenant,
      spec.requestId,
      {
        action: 'failover',
        reason: `pool ${from} stopped heartbeating (request ${stage}); ${placement.reason}`,
        chosen: placement.pool,
        candidates: placement.candidates,
      },
      nowMs,
    );
    metrics.failover.inc({ from, to: placement.pool, stage });
    moved[stage]++;
    return placement.pool;
  }

  function sweep(): void {
    if (now() - startedAt < staleAfterMs) return;
    const live = states();
    // With no pool heartbeating at all, the silence is more likely ours (a stalled watch) than
    // every pool's, and there is nowhere to move work to anyway.
    if (![...live.values()].some((s) => s.healthyWorkers > 0)) return;
    for (const p of deps.pools) {
      const s = live.get(p.id);
      metrics.outstanding.set({ pool: p.id }, tracker.of(p.id).total);
      if (!s || (s.healthyWorkers === 0 && s.drainingWorkers === 0)) void failover!.sweep(p.id);
    }
  }

  const follow = (subject: string, onEvent: (event: Event) => void) =>
    followEvents(deps.nc, subject, onEvent, { onUndecodable: (e, subject) => deps.logger.debug({ err: e, subject }, 'undecodable event ignored') });
  const listen = (subject: string, onEvent: (event: Event) => void) => void subscriptions.push(follow(subject, onEvent));
  let usageFeed: Subscription | undefined;

  return {
    async start() {
      startedAt = now();
      if (!deps.models) models = await loadStepModels(deps.pools);
      const routesKv = deps.routesKv ?? (await openBucket(deps.nc, buckets.routes));
      const batchingKv = deps.batchingKv ?? (await openBucket(deps.nc, buckets.batching, { ttl: 3_600_000 }));
      records = placementRecords(deps.placementsKv ?? (await openBucket(deps.nc, buckets.placements, { ttl: PLACEMENT_RECORD_TTL_MS })));
      routeStore = await openRouteStore(routesKv, { ...DEFAULT_ROUTES, ...config.routes }, (p) =>
        deps.logger.error(p, 'invalid route in the routes bucket; keeping the last good one'),
      );
      watch = await watchHeartbeats(deps.poolsKv);
      canary = createCanaryController({
        js: deps.js,
        routesKv,
        routes: () => routeStore!.routes(),
        versionOf: (pool) => {
          const p = poolsById.get(pool);
          return p && poolVersion(p);
        },
        thresholds: config.canary,
        logger: deps.logger,
        now,
        onRollback: (route) => metrics.rollbacks.inc({ route }),
        followUsage: (on) => {
          if (on) {
            usageFeed ??= follow(filters.allUsage, (e) => e.payload?.$case === 'usageRecorded' && canary!.usage(e.payload.usageRecorded));
            return;
          }
          usageFeed?.unsubscribe();
          usageFeed = undefined;
        },
      });
      failover = createFailover({ jsm: await deps.js.jetstreamManager(), batchingKv, hasEnded: tracker.hasEnded, replace, logger: deps.logger });
      listen(filters.allDispatch, (e) => {
        if (e.payload?.$case !== 'requestDispatched') return;
        const { request, pool } = e.payload.requestDispatched;
        if (request)
          tracker.dispatched(
            request.requestId,
            pool,
            tierName(request.tier) ?? 'batch',
            request.promptTokens,
            request.maxTokens,
            now(),
            prefillMs(pool, request.promptTokens),
          );
      });
      listen(filters.allTerminals, (e) => {
        if (e.payload?.$case !== 'requestTerminated') return;
        tracker.ended(e.payload.requestTerminated.requestId);
        canary!.terminated(e.payload.requestTerminated);
      });
      canary.start();
      timers.push(
        setInterval(sweep, deps.sweepIntervalMs ?? 500),
        setInterval(() => tracker.prune(now()), 30_000),
      );
      consumer = await consumeDurable({
        js: deps.js,
        stream: streams.REQUESTS.name,
        durable: 'scheduler',
        // Batch work may be held for idle capacity for minutes, one redelivery a second or so.
        maxDeliver: 100_000,
        maxAckPending: 20_000,
        concurrency: 64,
        onError: (e, context) => deps.logger.error({ err: e }, context),
        handle,
      });
      ops = createOpsView({ pools: deps.pools, routesKv, routeStore, states, outstanding: (pool) => tracker.of(pool).total, now });
    },
    async stop() {
      timers.forEach(clearInterval);
      canary?.stop();
      await consumer?.stop();
      for (const s of subscriptions) s.unsubscribe();
      usageFeed?.unsubscribe();
      await watch?.stop();
      await routeStore?.stop();
    },
    /** Requests moved off dead pools since start, by where they were found. */
    failoverCounts: (): Readonly<Record<FailoverStage, number>> => ({ ...moved }),
    /** The operator view (pools, drain, routes); available after `start`. */
    get ops(): OpsView {
      if (!ops) throw new Error('scheduler not started');
      return ops;
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;

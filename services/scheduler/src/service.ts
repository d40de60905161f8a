import {
  BATCHING_BUCKET,
  consumeDurable,
  MAX_DELIVER_UNTIL_DEADLINE,
  createAuditPublisher,
  openBucket,
  type JetStreamClient,
  type KV,
  type NatsConnection,
  type RunningConsumer,
} from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { buckets, streams } from '@switchyard/contracts';
import type { Logger, Registry } from '@switchyard/telemetry';
import { createCanaryController, type CanaryController } from './canary/controller.js';
import { createUsageFeed, type UsageFeed } from './canary/usage-feed.js';
import { DEFAULT_ROUTES, defaultScheduling, type SchedulingConfig } from './config.js';
import { createSchedulerMetrics } from './metrics.js';
import { announceServedModels, openRouteStore, type RouteStore } from './ops/routes-store.js';
import { createOperatorActions, type OperatorActions } from './ops/operator-actions.js';
import { createOpsView, type OpsView } from './ops/view.js';
import { createAdmittedEdge, type AdmittedEdge } from './placement/admitted.js';
import { startDeadPoolSweep } from './placement/dead-pool-sweep.js';
import { poolVersion } from './placement/domain/placement.js';
import { createFailover, type FailoverStage } from './placement/failover.js';
import { createUpstreamReplacement } from './placement/upstream-replacement.js';
import { createFleet, type Fleet } from './placement/fleet.js';
import { PLACEMENTS_BUCKET, placementRecords } from './placement/records.js';
import type { StepModel } from './placement/step-models.js';

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

/**
 * Consumes admitted requests, resolves their model through the routes and places each on a
 * pool (DISPATCH), explaining every decision; sheds what no pool can serve in time, moves work
 * off pools whose heartbeats stop, and rolls back canaries that misbehave.
 */
export function createScheduler(deps: SchedulerDeps) {
  const { nc, js, logger, pools } = deps;
  const now = deps.now ?? Date.now;
  const config = deps.config ?? defaultScheduling();
  const staleAfterMs = deps.staleAfterMs ?? config.staleAfterMs;
  const metrics = createSchedulerMetrics(deps.registry);
  const poolsById = new Map(pools.map((p) => [p.id, p]));
  const operatorActions = createOperatorActions(
    () => {
      if (!built.ops) throw new Error('scheduler not started');
      return built.ops;
    },
    createAuditPublisher(js, { recordedBy: 'scheduler', now }),
  );
  /** What `start` built so far: a start that failed half-way still stops what it got to. */
  const built: {
    routeStore?: RouteStore;
    usageFeed?: UsageFeed;
    canary?: CanaryController;
    fleet?: Fleet;
    admitted?: AdmittedEdge;
    stopSweep?: () => void;
    consumer?: RunningConsumer;
    ops?: OpsView;
  } = {};

  return {
    async start() {
      const startedAt = now();
      const routesKv = deps.routesKv ?? (await openBucket(nc, buckets.routes));
      const batchingKv = deps.batchingKv ?? (await openBucket(nc, buckets.batching, BATCHING_BUCKET));
      const records = placementRecords(deps.placementsKv ?? (await openBucket(nc, buckets.placements, PLACEMENTS_BUCKET)));
      const routeStore = (built.routeStore = await openRouteStore(routesKv, { ...DEFAULT_ROUTES, ...config.routes }, (p) =>
        logger.error(p, 'invalid route in the routes bucket; keeping the last good one'),
      ));
      await announceServedModels(routesKv, pools.map(poolVersion), startedAt);
      const usageFeed = (built.usageFeed = createUsageFeed({ nc, logger, onUsage: (u) => canary.usage(u) }));
      const canary = (built.canary = createCanaryController({
        js,
        routesKv,
        routes: () => routeStore.routes(),
        versionOf: (pool) => {
          const p = poolsById.get(pool);
          return p && poolVersion(p);
        },
        thresholds: config.canary,
        logger,
        now,
        onRollback: (route) => metrics.rollbacks.inc({ route }),
        followUsage: usageFeed.follow,
      }));
      const fleet = (built.fleet = createFleet({
        nc,
        poolsKv: deps.poolsKv,
        pools,
        config,
        staleAfterMs,
        models: deps.models,
        drained: () => routeStore.drained(),
        onTerminated: (t) => canary.terminated(t),
        logger,
        now,
      }));
      await fleet.start();
      const admitted = (built.admitted = createAdmittedEdge({
        js,
        nc,
        pools,
        config,
        fleet,
        routes: () => routeStore.routes(),
        records,
        metrics,
        maxWaitMs: deps.maxWaitMs ?? 5_000,
        now,
        random: deps.random ?? Math.random,
      }));
      const replacement = createUpstreamReplacement({ js, batchingKv, hasEnded: fleet.tracker.hasEnded, replace: admitted.replace, logger, now });
      const failover = createFailover({ jsm: await js.jetstreamManager(), batchingKv, hasEnded: fleet.tracker.hasEnded, replace: admitted.replace, logger });
      canary.start();
      const outstanding = (pool: string) => fleet.tracker.of(pool).total;
      built.stopSweep = startDeadPoolSweep({
        pools,
        states: fleet.states,
        outstanding,
        sweep: failover.sweep,
        metrics,
        startedAt,
        staleAfterMs,
        now,
        intervalMs: deps.sweepIntervalMs,
      });
      built.consumer = await consumeDurable({
        js,
        stream: streams.REQUESTS.name,
        durable: 'scheduler',
        // Batch work may be held for idle capacity for minutes, one redelivery a second or so.
        maxDeliver: MAX_DELIVER_UNTIL_DEADLINE,
        maxAckPending: 20_000,
        concurrency: 64,
        onError: (e, context) => logger.error({ err: e }, context),
        // REQUESTS carries admitted requests and workers' asks to re-place one.
        handle: (d) => (d.event.payload?.$case === 'replacementRequested' ? replacement(d) : admitted.handle(d)),
      });
      built.ops = createOpsView({ pools, routesKv, routeStore, states: fleet.states, outstanding, now });
    },
    async stop() {
      built.stopSweep?.();
      built.canary?.stop();
      await built.consumer?.stop();
      built.usageFeed?.stop();
      await built.fleet?.stop();
      await built.routeStore?.stop();
    },
    /** Requests moved off dead pools since start, by where they were found. */
    failoverCounts: (): Readonly<Record<FailoverStage, number>> => built.admitted?.failoverCounts() ?? { queued: 0, batched: 0, upstream: 0 },
    /** Prompt blocks the prefix index holds now, or that one worker holds (the workers' caches as their KV events tell them). */
    prefixBlocks: (holder?: { pool: string; worker: string }): number => built.fleet?.prefixBlocks(holder) ?? 0,
    /** Drain, undrain and route changes on behalf of an authenticated key, audited (allowed or denied). */
    operatorActions: operatorActions as OperatorActions,
    /** The operator view (pools, drain, routes); available after `start`. */
    get ops(): OpsView {
      if (!built.ops) throw new Error('scheduler not started');
      return built.ops;
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;

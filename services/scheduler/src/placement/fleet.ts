import { followEvents, watchHeartbeats, type HeartbeatWatch, type KV, type NatsConnection, type Subscription } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { filters, tierName, type Event, type RequestSpec, type RequestTerminated } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { SchedulingConfig } from '../config.js';
import { createLoadTracker, type LoadTracker } from './domain/load-tracker.js';
import type { FleetView } from './domain/placement.js';
import { poolStates, type PoolState } from './domain/pool-state.js';
import { createPrefixCacheView, type PrefixCacheView } from './prefix-cache-view.js';
import { loadStepModels, type StepModel } from './step-models.js';

export interface FleetDeps {
  /** Core NATS: every replica's dispatches and every terminal event, as they happen. */
  readonly nc: NatsConnection;
  readonly poolsKv: KV;
  readonly pools: readonly PoolSpec[];
  readonly config: SchedulingConfig;
  /** A worker whose last heartbeat is older than this counts as gone. */
  readonly staleAfterMs: number;
  /** Step-time model per pool id; loaded from the measured profiles at start when absent. */
  readonly models?: ReadonlyMap<string, StepModel>;
  /** Pools an operator drained (the routes bucket's live view). */
  readonly drained: () => ReadonlyMap<string, string>;
  /** Called for every terminal event, after the load it ended is released. */
  readonly onTerminated: (terminated: RequestTerminated) => void;
  readonly logger: Logger;
  readonly now: () => number;
}

/** Pool states are recomputed from the heartbeats at most this often: placement asks per request. */
const STATES_CACHE_MS = 20;
/** How often requests that never reported an end are forgotten. */
const PRUNE_INTERVAL_MS = 30_000;

/**
 * What placement sees of the pools: their health (heartbeats), what each has outstanding (every
 * replica's dispatches minus terminal events) and its prefill backlog.
 */
export function createFleet(deps: FleetDeps) {
  const { now, config } = deps;
  const tracker: LoadTracker = createLoadTracker();
  const subscriptions: Subscription[] = [];
  let models: ReadonlyMap<string, StepModel> = deps.models ?? new Map();
  let watch: HeartbeatWatch | undefined;
  let prune: NodeJS.Timeout | undefined;
  let cached: { at: number; states: Map<string, PoolState> } | undefined;
  let prefixes: PrefixCacheView | undefined;

  const states = (): Map<string, PoolState> => {
    const t = now();
    if (!cached || t - cached.at > STATES_CACHE_MS) cached = { at: t, states: poolStates(watch!.heartbeats(), t, { staleMs: deps.staleAfterMs }) };
    return cached.states;
  };
  /** GPU time of a prompt on a pool, for its prefill backlog. */
  const prefillMs = (pool: string, promptTokens: number) => models.get(pool)?.prefillMs(Math.max(1, promptTokens)) ?? 0;
  const dispatched = (request: RequestSpec, pool: string, atMs: number) =>
    tracker.dispatched(
      request.requestId,
      pool,
      tierName(request.tier) ?? 'batch',
      request.promptTokens,
      request.maxTokens,
      atMs,
      prefillMs(pool, request.promptTokens),
      request.tenant,
    );
  const listen = (subject: string, onEvent: (event: Event) => void) =>
    void subscriptions.push(
      followEvents(deps.nc, subject, onEvent, { onUndecodable: (e, subject) => deps.logger.debug({ err: e, subject }, 'undecodable event ignored') }),
    );

  return {
    tracker,
    states,
    /** The fleet as placement sees it now, leaving out `exclude`. */
    view: (exclude?: ReadonlySet<string>): FleetView => ({
      pools: deps.pools,
      models,
      states: states(),
      outstanding: tracker.of,
      drained: new Set(deps.drained().keys()),
      exclude,
      prefillBacklogMs: (pool) => tracker.prefillBacklog(pool, now(), Math.max(1, states().get(pool)?.healthyWorkers ?? 1) * config.speed),
      prefixHits: prefixes?.hits,
    }),
    /** Prompt blocks the prefix index holds now, or those it knows one worker holds. */
    prefixBlocks: (holder?: { pool: string; worker: string }) => prefixes?.size(holder) ?? 0,
    /** Counts a request this replica sent to `pool` (a first placement or a move). */
    dispatched,
    /** Loads the step models (unless given), then follows heartbeats, dispatches and terminal events. */
    async start() {
      if (!deps.models) models = await loadStepModels(deps.pools);
      watch = await watchHeartbeats(deps.poolsKv);
      const fresh = () => [...watch!.heartbeats()].filter((h) => now() - h.atUnixMs <= deps.staleAfterMs);
      prefixes = createPrefixCacheView({ nc: deps.nc, heartbeats: fresh, logger: deps.logger });
      prefixes.start();
      listen(filters.allDispatch, (e) => {
        if (e.payload?.$case !== 'requestDispatched') return;
        const { request, pool } = e.payload.requestDispatched;
        if (request) dispatched(request, pool, now());
      });
      listen(filters.allTerminals, (e) => {
        if (e.payload?.$case !== 'requestTerminated') return;
        tracker.ended(e.payload.requestTerminated.requestId);
        deps.onTerminated(e.payload.requestTerminated);
      });
      prune = setInterval(() => tracker.prune(now()), PRUNE_INTERVAL_MS);
    },
    async stop() {
      clearInterval(prune);
      prefixes?.stop();
      for (const s of subscriptions) s.unsubscribe();
      await watch?.stop();
    },
  };
}

export type Fleet = ReturnType<typeof createFleet>;

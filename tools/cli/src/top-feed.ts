import { followEvents, openBucket, type NatsConnection, type Subscription } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { buckets, filters } from '@switchyard/contracts';
import { poolStates } from '@switchyard/scheduler';
import { createTopModel, type BookAt, type TopSnapshot } from '@switchyard/live-model';
import { heartbeats } from './ops.js';

export interface TopFeedDeps {
  readonly nc: NatsConnection;
  /** The pools file's pools, listed whether or not a worker beats. */
  readonly pools: readonly PoolSpec[];
  readonly bookAt: BookAt;
  readonly now: () => number;
  /** Default 60,000 ms. */
  readonly windowMs?: number;
  /** Tenants listed. Default 10. */
  readonly topTenants?: number;
}

export interface TopFeed {
  /** The window as of now, with each pool's heartbeats read afresh. */
  snapshot(): Promise<TopSnapshot>;
  stop(): void;
}

/**
 * The data path of `switchyard top`: follows admissions, terminal events and usage on core
 * NATS (no consumer is created, so watching leaves nothing behind on the streams) and folds
 * heartbeats the way `switchyard pools` does, so both commands agree on a pool's state.
 */
export async function followTop(deps: TopFeedDeps): Promise<TopFeed> {
  const model = createTopModel({ windowMs: deps.windowMs, listeningSinceMs: deps.now(), topTenants: deps.topTenants, bookAt: deps.bookAt });
  const kv = await openBucket(deps.nc, buckets.pools, { ttl: 10_000 });
  const subs: Subscription[] = [
    followEvents(deps.nc, filters.allAdmitted, (e) => {
      if (e.payload?.$case === 'requestAdmitted' && e.payload.requestAdmitted.request) model.onAdmitted(e.payload.requestAdmitted.request, deps.now());
    }),
    followEvents(deps.nc, filters.allTerminals, (e) => {
      if (e.payload?.$case === 'requestTerminated') model.onTerminal(e.payload.requestTerminated, deps.now());
    }),
    followEvents(deps.nc, filters.allUsage, (e) => {
      if (e.payload?.$case === 'usageRecorded') model.onUsage(e.payload.usageRecorded, deps.now());
    }),
  ];
  return {
    async snapshot() {
      const nowMs = deps.now();
      const states = poolStates(await heartbeats(kv), nowMs, { staleMs: 3_000 });
      const pools = deps.pools.map((p) => ({ id: p.id, workers: p.workers, slotsPerWorker: p.slotsPerWorker, state: states.get(p.id) }));
      return model.snapshot(nowMs, pools);
    },
    stop() {
      for (const s of subs) s.unsubscribe();
    },
  };
}

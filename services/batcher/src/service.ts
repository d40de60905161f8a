import {
  consumeDurable,
  MAX_DELIVER_UNTIL_DEADLINE,
  watchHeartbeats,
  type HeartbeatWatch,
  type JetStreamClient,
  type KV,
  type RunningConsumer,
} from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { DomainError, durables, expectPayload, streams, subjects } from '@switchyard/contracts';
import type { Logger, Registry } from '@switchyard/telemetry';
import type { FormingRules } from './domain/batch-forming.js';
import { createBatcherMetrics } from './metrics.js';
import { createPoolQueue, type PoolQueue } from './pool-queue.js';
import { createWorkerQueues, type WorkerQueues } from './worker-queues.js';

export interface BatcherDeps {
  readonly js: JetStreamClient;
  readonly poolsKv: KV;
  readonly batchingKv: KV;
  readonly pools: readonly PoolSpec[];
  readonly logger: Logger;
  readonly registry?: Registry;
  readonly rules?: Partial<FormingRules>;
  /** A worker silent this long offers no capacity. Default 3 s. */
  readonly staleAfterMs?: number;
  /**
   * How often the queues of dead, stopped, draining or stalled workers are moved to their
   * pools; a batch waits on a live worker that takes nothing for up to two of these. Default 250 ms.
   */
  readonly sweepEveryMs?: number;
  readonly now?: () => number;
}

const LEGACY_DURABLE = 'batcher';

/**
 * Defaults: realtime never waits for company (a worker's continuous batching joins it to the
 * running batch at its next step, so waiting here would only add latency); internal waits
 * up to 30 ms and batch 1 s, trading latency for fewer, larger hand-offs.
 */
export const DEFAULT_RULES: FormingRules = {
  maxRequests: 64,
  maxPromptTokens: 16_384,
  maxWaitMs: { realtime: 0, internal: 30, batch: 1_000 },
  preferredSize: 16,
};

/**
 * One queue per pool, fed by a durable consumer on `dispatch.<pool>` that every replica
 * shares. Dispatch messages stay unacked until their batch is handed off, so a crash loses
 * nothing; the hand-off itself is exactly-once (see handoff.ts).
 */
export function createBatcher(deps: BatcherDeps) {
  const now = deps.now ?? Date.now;
  const rules = { ...DEFAULT_RULES, ...deps.rules };
  const staleAfterMs = deps.staleAfterMs ?? 3_000;
  const metrics = createBatcherMetrics(deps.registry);
  const queues = new Map<string, PoolQueue>();
  const consumers: RunningConsumer[] = [];
  const workerQueues: WorkerQueues[] = [];
  let watch: HeartbeatWatch | undefined;
  let keepAlive: NodeJS.Timeout | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let sweeping = false;
  /** Fresh heartbeats of a pool's workers, draining ones included. */
  const fresh = (pool: string) => [...watch!.heartbeats()].filter((h) => h.pool === pool && now() - h.atUnixMs <= staleAfterMs);
  const sweep = async () => {
    if (sweeping) return;
    sweeping = true;
    // Pools at once: a dead worker's batch still within its ack wait holds its pool's sweep for a second.
    await Promise.all(workerQueues.map((q) => q.sweep().catch((e: unknown) => deps.logger.error({ err: e }, "moving dead workers' batches failed; retrying"))));
    sweeping = false;
  };

  return {
    async start() {
      const jsm = await deps.js.jetstreamManager();
      // Before per-pool queues one durable "batcher" took all of dispatch.>; on a work-queue
      // stream it would overlap every per-pool consumer, so an upgraded deployment drops it.
      await jsm.consumers.delete(streams.DISPATCH.name, LEGACY_DURABLE).catch(() => false);
      watch = await watchHeartbeats(deps.poolsKv, () => queues.forEach((q) => q.poke()));
      /** Batches a durable of BATCHES has not delivered; a missing one counts as full. */
      const pending = async (durable: string) => {
        const info = await jsm.consumers.info(streams.BATCHES.name, durable).catch(() => undefined);
        return info ? info.num_pending : Number.POSITIVE_INFINITY;
      };
      for (const pool of deps.pools) {
        const workerProbes = new Map<string, () => Promise<number>>();
        const queue = createPoolQueue({
          js: deps.js,
          batchingKv: deps.batchingKv,
          pool: pool.id,
          rules,
          metrics,
          now,
          heartbeats: () => fresh(pool.id).filter((h) => !h.draining),
          undelivered: refreshed(
            10,
            async () => {
              const asOfMs = now();
              return { batches: await pending(durables.workers(pool.id)), asOfMs };
            },
            () => queue.poke(),
          ),
          workerUndelivered: (worker) => {
            if (!workerProbes.has(worker))
              workerProbes.set(
                worker,
                refreshed(
                  10,
                  () => pending(durables.worker(pool.id, worker)),
                  () => queue.poke(),
                ),
              );
            return workerProbes.get(worker)!();
          },
          onWorkerHandOff: () => mover.handed(),
          onError: (e) => deps.logger.error({ err: e, pool: pool.id }, 'batch hand-off failed'),
        });
        const mover = createWorkerQueues({ js: deps.js, jsm, pool: pool.id, heartbeats: () => fresh(pool.id), metrics, logger: deps.logger, now });
        queues.set(pool.id, queue);
        workerQueues.push(mover);
        consumers.push(
          await consumeDurable({
            js: deps.js,
            stream: streams.DISPATCH.name,
            durable: `batcher-${pool.id}`,
            filterSubject: subjects.dispatch(pool.id),
            // Queued requests are in flight for JetStream; the queue, not this, bounds them.
            concurrency: 10_000,
            maxAckPending: 20_000,
            ackWaitMs: 30_000,
            // A hand-off fails while BATCHES or the batching bucket cannot take writes: the
            // dispatch is tried again until its deadline ends it in the queue.
            maxDeliver: MAX_DELIVER_UNTIL_DEADLINE,
            onError: (e, context) => deps.logger.error({ err: e }, context),
            handle: async ({ event, working }) => {
              const { request, worker, workerHitTokens } = expectPayload(event, 'requestDispatched').requestDispatched;
              if (!request) throw new DomainError('INVALID_ARGUMENT', 'dispatched event without a request');
              await queue.enqueue(request, working, worker, workerHitTokens);
            },
          }),
        );
      }
      keepAlive = setInterval(() => queues.forEach((q) => q.keepAlive()), 10_000);
      sweeper = setInterval(() => void sweep(), deps.sweepEveryMs ?? 250);
    },
    async stop() {
      clearInterval(keepAlive);
      clearInterval(sweeper);
      queues.forEach((q) => q.stop());
      await Promise.all(consumers.map((c) => c.stop()));
      await watch?.stop();
    },
  };
}

export type Batcher = ReturnType<typeof createBatcher>;

/**
 * A probe's last answer, refreshed in the background once it is `ms` old: a busy queue asks
 * the server at most that often, and no hand-off waits for the round trip (only the very
 * first). `onRefreshed` runs when a fresh answer arrives, so a queue blocked on a stale one
 * looks again.
 */
function refreshed<T>(ms: number, probe: () => Promise<T>, onRefreshed: () => void): () => Promise<T> {
  let last: { at: number; value: T } | undefined;
  let pending: Promise<T> | undefined;
  const refresh = () =>
    (pending ??= probe().then((value) => {
      last = { at: performance.now(), value };
      pending = undefined;
      onRefreshed();
      return value;
    }));
  return async () => {
    if (!last) return refresh();
    if (performance.now() - last.at > ms) void refresh();
    return last.value;
  };
}

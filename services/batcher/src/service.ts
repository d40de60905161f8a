import { consumeDurable, watchHeartbeats, type HeartbeatWatch, type JetStreamClient, type KV, type RunningConsumer } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { DomainError, durables, expectPayload, streams, subjects } from '@switchyard/contracts';
import type { Logger, Registry } from '@switchyard/telemetry';
import type { FormingRules } from './batch-forming.js';
import { createBatcherMetrics } from './metrics.js';
import { createPoolQueue, type PoolQueue } from './pool-queue.js';

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
  readonly now?: () => number;
}

const LEGACY_DURABLE = 'batcher';

/** Defaults: realtime waits 5 ms for company, internal 30 ms, batch 1 s. */
export const DEFAULT_RULES: FormingRules = {
  maxRequests: 64,
  maxPromptTokens: 16_384,
  maxWaitMs: { realtime: 5, internal: 30, batch: 1_000 },
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
  let watch: HeartbeatWatch | undefined;
  let keepAlive: NodeJS.Timeout | undefined;

  return {
    async start() {
      const jsm = await deps.js.jetstreamManager();
      // Before per-pool queues one durable "batcher" took all of dispatch.>; on a work-queue
      // stream it would overlap every per-pool consumer, so an upgraded deployment drops it.
      await jsm.consumers.delete(streams.DISPATCH.name, LEGACY_DURABLE).catch(() => false);
      watch = await watchHeartbeats(deps.poolsKv, () => queues.forEach((q) => q.poke()));
      for (const pool of deps.pools) {
        const queue = createPoolQueue({
          js: deps.js,
          batchingKv: deps.batchingKv,
          pool: pool.id,
          rules,
          metrics,
          now,
          heartbeats: () => [...watch!.heartbeats()].filter((h) => h.pool === pool.id && !h.draining && now() - h.atUnixMs <= staleAfterMs),
          undelivered: cached(10, async () => {
            const info = await jsm.consumers.info(streams.BATCHES.name, durables.workers(pool.id)).catch(() => undefined);
            return info ? info.num_pending : Number.POSITIVE_INFINITY;
          }),
          onError: (e) => deps.logger.error({ err: e, pool: pool.id }, 'batch hand-off failed'),
        });
        queues.set(pool.id, queue);
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
            onError: (e, context) => deps.logger.error({ err: e }, context),
            handle: async ({ event, working }) => {
              const { request } = expectPayload(event, 'requestDispatched').requestDispatched;
              if (!request) throw new DomainError('INVALID_ARGUMENT', 'dispatched event without a request');
              await queue.enqueue(request, working);
            },
          }),
        );
      }
      keepAlive = setInterval(() => queues.forEach((q) => q.keepAlive()), 10_000);
    },
    async stop() {
      clearInterval(keepAlive);
      queues.forEach((q) => q.stop());
      await Promise.all(consumers.map((c) => c.stop()));
      await watch?.stop();
    },
  };
}

export type Batcher = ReturnType<typeof createBatcher>;

/** Reuses a probe's answer for `ms`, so a busy queue asks the server at most that often. */
function cached<T>(ms: number, probe: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = performance.now();
    if (!last || now - last.at > ms) last = { at: now, value: probe() };
    return last.value;
  };
}

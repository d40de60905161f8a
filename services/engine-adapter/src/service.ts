import { pullDurable, type JetStreamClient, type KV, type Msg, type NatsConnection, type Subscription } from '@switchyard/bus';
import { poolKind, type EndpointSpec, type PoolSpec } from '@switchyard/config';
import { durables, encodeHeartbeat, filters, heartbeatKey, streams, subjects } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { createBatchTracker, createChunkOutbox, createIntake, type BatchTracker, type Intake } from '@switchyard/worker-kit';
import { adapterHeartbeat } from './domain/adapter-heartbeat.js';
import { ewma } from './domain/latency.js';
import { createPoolServing, type PoolServing } from './pool-serving.js';

export interface EngineAdapterDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly poolsKv: KV;
  /** Every pool of the pools file; the adapter serves those of kind `openai-compatible` and `provider`. */
  readonly pools: readonly PoolSpec[];
  readonly logger: Logger;
  /** Distinguishes this process from other replicas; letters, digits, "-" and "_". */
  readonly instanceId: string;
  /** API keys by the name of the environment variable a pool's `endpoint.apiKeyEnv` gives (main reads them). */
  readonly apiKeys?: Readonly<Record<string, string | undefined>>;
  /** Output tokens of a piece of text, when an upstream reports no usage. */
  readonly countTokens: (text: string) => number;
  /** Ack wait of each pool's batches consumer. Default 30,000 ms. */
  readonly ackWaitMs?: number;
  /** Ms between heartbeats. Default 1,000. */
  readonly heartbeatMs?: number;
  /** Real Unix ms. Default `Date.now`. */
  readonly now?: () => number;
}

/** Caller cancellations remembered, so a batch that arrives after its cancel is not sent. */
const REMEMBERED_CANCELS = 10_000;
/** Batches of a pool outstanding across every replica, a backstop to each process's own room check. */
const MAX_REPLICAS_PER_POOL = 8;

interface Served {
  readonly pool: PoolSpec & { readonly endpoint: EndpointSpec };
  readonly worker: string;
  readonly serving: PoolServing;
  readonly intake: Intake;
  readonly batches: BatchTracker;
  readonly beat: NodeJS.Timeout;
  ttftMs: number;
}

const isEngine = (p: PoolSpec): p is PoolSpec & { endpoint: EndpointSpec } => poolKind(p) !== 'simulated' && p.endpoint !== undefined;

/**
 * Serves the pools of real engines: pulls each pool's batches from `batches.<pool>` while it has
 * room under the endpoint's concurrency limit, sends each request upstream, relays the tokens,
 * records usage and the terminal outcome, and heartbeats the pool's free slots and latency.
 */
export function createEngineAdapter(deps: EngineAdapterDeps) {
  const now = deps.now ?? Date.now;
  const ackWaitMs = deps.ackWaitMs ?? 30_000;
  const served: Served[] = [];
  const cancelled = new Set<string>();
  let subscription: Subscription | undefined;
  let stopping = false;

  const heartbeat = (s: Served) =>
    deps.poolsKv
      .put(
        heartbeatKey(s.pool.id, s.worker),
        encodeHeartbeat(
          adapterHeartbeat({
            pool: s.pool.id,
            worker: s.worker,
            running: s.serving.running,
            waiting: s.serving.waiting,
            limit: s.pool.endpoint.concurrency,
            ttftMs: s.ttftMs,
            stopping,
            nowMs: now(),
          }),
        ),
      )
      .catch((e: unknown) => deps.logger.warn({ err: e, pool: s.pool.id }, 'heartbeat failed'));

  const cancel = (msg: Msg) => {
    const requestId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    cancelled.add(requestId);
    if (cancelled.size > REMEMBERED_CANCELS) cancelled.delete(cancelled.values().next().value!);
    for (const s of served) s.serving.cancel(requestId);
  };

  return {
    async start() {
      for (const pool of deps.pools.filter(isEngine)) {
        const worker = `${deps.instanceId}-adapter`;
        const logger = deps.logger.child({ pool: pool.id, worker });
        const apiKey = pool.endpoint.apiKeyEnv ? deps.apiKeys?.[pool.endpoint.apiKeyEnv] : undefined;
        if (pool.endpoint.apiKeyEnv && !apiKey)
          logger.warn({ apiKeyEnv: pool.endpoint.apiKeyEnv }, 'API key variable is empty; calling upstream without a key');
        const puller = await pullDurable({
          js: deps.js,
          stream: streams.BATCHES.name,
          durable: durables.workers(pool.id),
          filterSubject: subjects.batches(pool.id),
          ackWaitMs,
          maxAckPending: pool.endpoint.concurrency * MAX_REPLICAS_PER_POOL,
          onError: (e, context) => logger.error({ err: e }, context),
        });
        const batches = createBatchTracker({ ackWaitMs });
        const out = { nc: deps.nc, js: deps.js, pool: pool.id, workerId: worker, now, outbox: createChunkOutbox(deps.nc) };
        let s: Served | undefined;
        const serving = createPoolServing({
          pool,
          apiKey,
          out,
          batches,
          logger,
          countTokens: deps.countTokens,
          now,
          wasCancelled: (id) => cancelled.has(id),
          onFirstToken: (ms) => {
            if (s) s.ttftMs = ewma(s.ttftMs, ms);
          },
          onSettled: () => s?.intake.wake(),
        });
        const intake = createIntake({
          puller,
          room: () => (stopping ? 0 : pool.endpoint.concurrency - serving.running - serving.waiting),
          accept: (m) => serving.accept(m),
          onError: (e, context) => logger.error({ err: e }, context),
        });
        s = { pool, worker, serving, intake, batches, beat: setInterval(() => void heartbeat(s!), deps.heartbeatMs ?? 1_000), ttftMs: 0 };
        served.push(s);
        void heartbeat(s);
        intake.start();
        logger.info({ baseUrl: pool.endpoint.baseUrl, concurrency: pool.endpoint.concurrency }, 'serving pool upstream');
      }
      subscription = deps.nc.subscribe(filters.allCancels, {
        callback: (error, msg) => (error ? deps.logger.error({ err: error }, 'cancel subscription failed') : cancel(msg)),
      });
    },
    /**
     * Takes nothing new, lets requests upstream finish for up to `graceMs` (default 5,000), then
     * hands the rest back for redelivery and removes the heartbeats.
     */
    async stop(graceMs = 5_000) {
      stopping = true;
      subscription?.unsubscribe();
      await Promise.all(served.map((s) => s.intake.stop()));
      const deadline = Date.now() + graceMs;
      while (served.some((s) => s.batches.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const s of served) {
        clearInterval(s.beat);
        s.serving.abandonAll();
        s.batches.handBackAll();
        s.batches.dispose();
        await deps.poolsKv.delete(heartbeatKey(s.pool.id, s.worker)).catch(() => {});
      }
    },
    /** The pools this process serves. */
    pools: () => served.map((s) => s.pool.id),
  };
}

export type EngineAdapter = ReturnType<typeof createEngineAdapter>;

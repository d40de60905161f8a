import type { JetStreamClient, KV, Msg, NatsConnection, Subscription } from '@switchyard/bus';
import { poolKind, poolUpstreams, type EndpointSpec, type PoolSpec } from '@switchyard/config';
import { filters } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { createBatchTracker, createChunkOutbox, createIntake, pullPoolBatches, type BatchTracker, type Intake } from '@switchyard/worker-kit';
import { upstreamMetrics, type AdapterMetrics } from './metrics.js';
import { createUpstreamWorker, type UpstreamWorker } from './upstream-worker.js';

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
  /** Ms between heartbeats (and engine scrapes, breaker probes). Default 1,000. */
  readonly heartbeatMs?: number;
  /** Real Unix ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Prometheus metrics (main registers them); none when absent. */
  readonly metrics?: AdapterMetrics;
}

/** Caller cancellations remembered, so a batch that arrives after its cancel is not sent. */
const REMEMBERED_CANCELS = 10_000;
/** Batches of a pool outstanding across every replica, a backstop to each process's own room check. */
const MAX_REPLICAS_PER_POOL = 8;

interface Served {
  readonly pool: PoolSpec & { readonly endpoint: EndpointSpec };
  readonly upstream: UpstreamWorker;
  readonly intake: Intake;
  readonly batches: BatchTracker;
  readonly beat: NodeJS.Timeout;
}

const isEngine = (p: PoolSpec): p is PoolSpec & { endpoint: EndpointSpec } => poolKind(p) !== 'simulated' && p.endpoint !== undefined;

/**
 * Serves the pools of real engines. Each upstream of a pool (one per `baseUrl`) is a worker of
 * it: it pulls the pool's batches from `batches.<pool>` while it has room under its concurrency
 * limit and the engine's queue, sends each request upstream, relays the tokens, records usage and
 * the terminal outcome (or asks for the request to be placed elsewhere when the upstream failed
 * before its first token), and heartbeats the engine's load as it reports it.
 */
export function createEngineAdapter(deps: EngineAdapterDeps) {
  const now = deps.now ?? Date.now;
  const ackWaitMs = deps.ackWaitMs ?? 30_000;
  const served: Served[] = [];
  const cancelled = new Set<string>();
  let subscription: Subscription | undefined;
  let stopping = false;

  const cancel = (msg: Msg) => {
    const requestId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    cancelled.add(requestId);
    if (cancelled.size > REMEMBERED_CANCELS) cancelled.delete(cancelled.values().next().value!);
    for (const s of served) s.upstream.cancel(requestId);
  };

  async function serve(pool: PoolSpec & { endpoint: EndpointSpec }, index: number) {
    const upstreamSpec = poolUpstreams(pool)[index]!;
    const worker = `${deps.instanceId}-u${index}`;
    const logger = deps.logger.child({ pool: pool.id, worker });
    const apiKey = pool.endpoint.apiKeyEnv ? deps.apiKeys?.[pool.endpoint.apiKeyEnv] : undefined;
    if (pool.endpoint.apiKeyEnv && !apiKey) logger.warn({ apiKeyEnv: pool.endpoint.apiKeyEnv }, 'API key variable is empty; calling upstream without a key');
    const puller = await pullPoolBatches({
      js: deps.js,
      pool: pool.id,
      ackWaitMs,
      maxAckPending: pool.endpoint.concurrency * poolUpstreams(pool).length * MAX_REPLICAS_PER_POOL,
      onError: (e, context) => logger.error({ err: e }, context),
    });
    const batches = createBatchTracker({ ackWaitMs });
    let intake: Intake | undefined;
    const upstream = createUpstreamWorker({
      pool,
      upstream: upstreamSpec,
      worker,
      apiKey,
      out: { nc: deps.nc, js: deps.js, pool: pool.id, workerId: worker, now, outbox: createChunkOutbox(deps.nc) },
      batches,
      poolsKv: deps.poolsKv,
      logger,
      countTokens: deps.countTokens,
      now,
      wasCancelled: (id) => cancelled.has(id),
      wake: () => intake?.wake(),
      stopping: () => stopping,
      metrics: upstreamMetrics(deps.metrics, pool.id, `u${index}`),
    });
    intake = createIntake({
      // Engines publish no KV events, so no placement names one of them: the pool's queue only.
      pullers: [puller],
      room: () => upstream.room(),
      accept: (m) => upstream.accept(m),
      onError: (e, context) => logger.error({ err: e }, context),
    });
    served.push({ pool, upstream, intake, batches, beat: setInterval(() => void upstream.tick(), deps.heartbeatMs ?? 1_000) });
    await upstream.tick();
    intake.start();
    logger.info(
      { baseUrl: upstreamSpec.baseUrl, metrics: upstreamSpec.metricsUrl ?? 'not scraped', concurrency: pool.endpoint.concurrency },
      'serving pool upstream',
    );
  }

  return {
    async start() {
      for (const pool of deps.pools.filter(isEngine)) {
        for (let i = 0; i < poolUpstreams(pool).length; i++) await serve(pool, i);
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
        s.upstream.abandonAll();
        s.batches.handBackAll();
        s.batches.dispose();
        await s.upstream.removeHeartbeat();
      }
    },
    /** The pools this process serves. */
    pools: () => [...new Set(served.map((s) => s.pool.id))],
  };
}

export type EngineAdapter = ReturnType<typeof createEngineAdapter>;

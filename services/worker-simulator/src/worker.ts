import { setTimeout as sleep } from 'node:timers/promises';
import { consumeDurable, publishEvent, publishTerminal, terminalOf, type JetStreamClient, type KV, type NatsConnection, type RunningConsumer } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import {
  Outcome,
  TokenChunk,
  encodeHeartbeat,
  expectPayload,
  heartbeatKey,
  makeEvent,
  streams,
  subjects,
  type RequestSpec,
} from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { tokenText } from './text.js';

export interface WorkerDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly poolsKv: KV;
  readonly pool: PoolSpec;
  readonly workerId: string;
  readonly logger: Logger;
  /** Simulated time per generated token (walking skeleton: fixed). */
  readonly tokenDelayMs: number;
  /** Tokens per chunk sent to the inbox. Default 4. */
  readonly chunkTokens?: number;
  readonly now?: () => number;
}

/** One simulated GPU worker: pulls batches of its pool, streams tokens, reports usage. */
export function createWorker(deps: WorkerDeps) {
  const now = deps.now ?? Date.now;
  const chunkTokens = deps.chunkTokens ?? 4;
  const slots = deps.pool.slotsPerWorker;
  let running = 0;
  let consumer: RunningConsumer | undefined;
  let beat: NodeJS.Timeout | undefined;

  const heartbeat = () =>
    deps.poolsKv
      .put(heartbeatKey(deps.pool.id, deps.workerId), encodeHeartbeat({
        pool: deps.pool.id, worker: deps.workerId, running, waiting: 0, freeSlots: slots - running,
        kvUsed: 0, stepMs: deps.tokenDelayMs, ttftMs: deps.tokenDelayMs, draining: false, atUnixMs: now(),
      }))
      .catch((e) => deps.logger.warn({ err: e }, 'heartbeat failed'));

  async function generate(request: RequestSpec, attempt: number, working: () => void) {
    const started = now();
    let chunk = '';
    let seq = 0;
    const flush = () => {
      deps.nc.publish(request.inbox, TokenChunk.encode({ requestId: request.requestId, seq: seq++, attempt, text: chunk }).finish());
      chunk = '';
    };
    for (let i = 0; i < request.maxTokens; i++) {
      await sleep(deps.tokenDelayMs);
      chunk += tokenText(request.seed, i);
      if ((i + 1) % chunkTokens === 0) flush();
      if (i % 1000 === 999) working();
    }
    if (chunk) flush();
    const totalMs = now() - started;
    const usage = { inputTokens: request.promptTokens, cachedInputTokens: 0, outputTokens: request.maxTokens };
    const { requestId, tenant } = request;
    await publishEvent(
      deps.js,
      subjects.usageRecorded(tenant),
      makeEvent({ id: `usage-${requestId}`, tenant, requestId, nowMs: now() }, {
        $case: 'usageRecorded',
        usageRecorded: {
          usageId: `usage-${requestId}`, requestId, tenant, feature: request.feature, model: request.model, tier: request.tier,
          pool: deps.pool.id, workerId: deps.workerId, usage, gpuMs: totalMs, queueMs: Math.max(0, started - request.admittedUnixMs),
          ttftMs: deps.tokenDelayMs, totalMs,
        },
      }),
    );
    await publishTerminal(deps.js, terminalOf({ requestId, tenant, outcome: Outcome.OUTCOME_COMPLETED, reason: '', pool: deps.pool.id, workerId: deps.workerId, attempt, usage, chunkCount: seq }), now());
  }

  return {
    async start() {
      await heartbeat();
      beat = setInterval(heartbeat, 1_000);
      consumer = await consumeDurable({
        js: deps.js,
        stream: streams.BATCHES.name,
        durable: `workers-${deps.pool.id}`,
        filterSubject: subjects.batches(deps.pool.id),
        maxAckPending: deps.pool.workers * slots,
        concurrency: slots,
        onError: (e, context) => deps.logger.error({ err: e }, context),
        handle: async ({ event, deliveryCount, working }) => {
          const { requests } = expectPayload(event, 'batchFormed').batchFormed;
          running += requests.length;
          try {
            // The batch is acked only when every request in it reached its terminal outcome.
            await Promise.all(requests.map((r) => generate(r, deliveryCount, working)));
          } finally {
            running -= requests.length;
          }
        },
      });
    },
    async stop() {
      clearInterval(beat);
      await consumer?.stop();
      await deps.poolsKv.delete(heartbeatKey(deps.pool.id, deps.workerId)).catch(() => {});
    },
  };
}

export type Worker = ReturnType<typeof createWorker>;

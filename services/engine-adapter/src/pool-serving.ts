import type { PulledMessage } from '@switchyard/bus';
import { Outcome, type RequestSpec } from '@switchyard/contracts';
import type { EndpointSpec, PoolSpec, Upstream } from '@switchyard/config';
import type { Logger } from '@switchyard/telemetry';
import { acceptBatch, publishUnfinished, type BatchTracker, type OutputDeps } from '@switchyard/worker-kit';
import { refusalOf, stoppedByCaller } from './domain/admission-check.js';
import { chatCompletionBody } from './domain/chat-request.js';
import type { UpstreamFailure } from './domain/failures.js';
import type { GpuShare } from './domain/gpu-share.js';
import { mayReplace } from './domain/replacement.js';
import { relayRequest } from './relay.js';
import { requestReplacement } from './replacement.js';

export interface PoolServingDeps {
  readonly pool: PoolSpec & { readonly endpoint: EndpointSpec };
  readonly upstream: Upstream;
  readonly apiKey?: string;
  readonly out: OutputDeps;
  readonly batches: BatchTracker;
  readonly logger: Logger;
  readonly countTokens: (text: string) => number;
  readonly now: () => number;
  readonly wasCancelled: (requestId: string) => boolean;
  readonly onFirstToken: (ttftMs: number) => void;
  /** A request finished (room for another). */
  readonly onSettled: () => void;
  /** The upstream's circuit breaker: why it is out of placement (undefined while closed), and each call's result. */
  readonly circuit: { readonly openReason: () => string | undefined; readonly report: (failure: UpstreamFailure | undefined) => void };
  /** GPU time of the engine, shared among its requests. */
  readonly share: GpuShare;
  /** A request is about to go upstream (rate limits count it). */
  readonly onSend?: (request: RequestSpec) => void;
  /** How each call upstream ended. */
  readonly onEnd?: (result: 'completed' | 'failed' | 'replaced' | 'cancelled') => void;
}

interface InFlight {
  readonly request: RequestSpec;
  readonly abort: AbortController;
}

/**
 * The requests this process has on one upstream of a pool: from a pulled batch to recorded
 * outcomes. A request's key is `<request id>/<delivery>`, so a redelivered copy never collides
 * with a late original.
 */
export function createPoolServing(deps: PoolServingDeps) {
  const { pool, out, batches, logger } = deps;
  const inflight = new Map<string, InFlight>();
  /** Requests of pulled batches past the concurrency limit (a batch may hold several), sent as slots free up. */
  const waiting: Array<() => void> = [];
  let abandoned = false;

  const settle = (key: string, requestId: string, published: Promise<void>) =>
    void published
      .then(
        () => batches.settle(key, true),
        (e: unknown) => (logger.error({ err: e, requestId }, 'could not record the outcome'), batches.settle(key, false)),
      )
      .finally(() => {
        inflight.delete(key);
        deps.share.finish(key, deps.now());
        pump();
        deps.onSettled();
      });

  /** Sends waiting requests while the endpoint's concurrency limit allows (a refused one takes no slot). */
  function pump() {
    while (!abandoned && inflight.size < pool.endpoint.concurrency && waiting.length > 0) waiting.shift()!();
  }
  /** Sends a request upstream now if the concurrency limit allows, else once a call ends. */
  function enqueue(request: RequestSpec, attempt: number, key: string, batchId: string) {
    waiting.push(() => run(request, attempt, key, batchId));
    pump();
  }

  /** Ends a request that never reached the upstream or failed there before its first token: elsewhere if it may, else FAILED. */
  const failEarly = (request: RequestSpec, attempt: number, batchId: string, reason: string) =>
    mayReplace(request, 0, deps.now())
      ? requestReplacement(out, request, batchId, reason)
      : publishUnfinished(out, request, attempt, Outcome.OUTCOME_FAILED, reason, 0);

  function run(request: RequestSpec, attempt: number, key: string, batchId: string) {
    const refusal = refusalOf(request, { nowMs: deps.now(), pool: pool.id, model: pool.model, cancelled: deps.wasCancelled(request.requestId) });
    if (refusal) return settle(key, request.requestId, publishUnfinished(out, request, attempt, refusal.outcome, refusal.reason, 0));
    const open = deps.circuit.openReason();
    if (open) return settle(key, request.requestId, failEarly(request, attempt, batchId, `upstream of pool ${pool.id} is out of placement: ${open}`));
    const abort = new AbortController();
    inflight.set(key, { request, abort });
    deps.onSend?.(request);
    deps.share.start(key, deps.now());
    const relayed = relayRequest(
      {
        out,
        call: {
          baseUrl: deps.upstream.baseUrl,
          apiKey: deps.apiKey,
          firstTokenTimeoutMs: pool.endpoint.firstTokenTimeoutMs,
          idleTimeoutMs: pool.endpoint.idleTimeoutMs,
        },
        countTokens: deps.countTokens,
        now: deps.now,
        stoppedByCaller: (r) => stoppedByCaller(r, deps.now()),
        onFirstToken: deps.onFirstToken,
        abandoned: () => abandoned,
        onResult: deps.circuit.report,
        replace: (reason) => requestReplacement(out, request, batchId, reason),
        gpuMs: () => deps.share.finish(key, deps.now()),
        onEnd: deps.onEnd,
      },
      request,
      attempt,
      chatCompletionBody(request, pool.model, pool.endpoint),
      abort.signal,
    );
    settle(key, request.requestId, relayed);
  }

  return {
    /** Takes a pulled batch: every request goes upstream, or ends at once with its reason. */
    accept(message: PulledMessage) {
      acceptBatch(message, batches, logger, enqueue);
    },
    /** Stops a request its caller gave up on; it ends CANCELLED (EXPIRED past its deadline). */
    cancel(requestId: string): boolean {
      const found = [...inflight.values()].filter((f) => f.request.requestId === requestId);
      for (const f of found) f.abort.abort();
      return found.length > 0;
    },
    /**
     * Shutdown past its grace: stops every call upstream without recording an outcome, as the
     * batches holding them are handed back and run again elsewhere.
     */
    abandonAll() {
      abandoned = true;
      waiting.length = 0;
      for (const f of inflight.values()) f.abort.abort();
    },
    /** Requests upstream now (and those whose outcome is being recorded). */
    get running() {
      return inflight.size;
    },
    /** Requests pulled but waiting for a free slot under the concurrency limit. */
    get waiting() {
      return waiting.length;
    },
  };
}

export type PoolServing = ReturnType<typeof createPoolServing>;

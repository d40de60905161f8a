import type { PulledMessage } from '@switchyard/bus';
import { Outcome, type RequestSpec } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { Engine, SequenceResult, StepReport } from './domain/engine.js';
import { cutPoint, type ActiveFaults } from './domain/faults.js';
import {
  acceptBatch,
  publishCompleted,
  publishUnfinished,
  publishUsage,
  type AttemptSpend,
  type BatchTracker,
  type OutputDeps,
  type Unfinished,
} from '@switchyard/worker-kit';
import { openTokenStream, usageTimes, type TokenStream } from './outputs.js';
import { preflight, stoppedByCaller } from './domain/preflight.js';
import { findStop } from './domain/stop-sequences.js';

export interface ServingDeps {
  readonly engine: Engine;
  readonly batches: BatchTracker;
  readonly out: OutputDeps;
  readonly logger: Logger;
  readonly model: string;
  readonly chunkTokens: number;
  readonly faults: () => ActiveFaults;
  readonly random: () => number;
  /** Real Unix ms. */
  readonly now: () => number;
  readonly wasCancelled: (requestId: string) => boolean;
  /** Simulated time at which a request taken now reaches the engine. */
  readonly arrivalMs: () => number;
  /** Simulated ms that `realMs` of waiting before the worker stand for. */
  readonly fromReal: (realMs: number) => number;
  /** A sequence completed (its outcome is being recorded). */
  readonly onCompleted: (result: SequenceResult) => void;
}

interface InFlight {
  readonly key: string;
  readonly request: RequestSpec;
  readonly attempt: number;
  readonly stream: TokenStream;
  /** A stop sequence ended the answer before max_tokens ("stop"), or it ran to max_tokens ("length"). */
  readonly finishReason: 'stop' | 'length';
  /** Simulated ms between admission and this worker taking the request. */
  readonly upstreamMs: number;
  /** Output index at which an injected cut ends the stream; null: never; undefined: not drawn yet. */
  cutAt: number | null | undefined;
}

export interface Serving {
  /** Takes a pulled batch: every request runs, or ends at once with its reason. */
  accept(message: PulledMessage): void;
  /** Streams a step's tokens and records the requests it finished or cut. */
  apply(step: StepReport): void;
  /** Ends a request the caller gave up on as CANCELLED (EXPIRED past its deadline); false if this worker does not hold it. */
  cancel(requestId: string, simNowMs: number): boolean;
  /**
   * A crash: forgets every request (no outcome; JetStream redelivers the batches) and records
   * the GPU time each spent as a FAILED attempt's usage, which bills the tenant nothing.
   */
  abandon(simNowMs: number): Promise<void>;
}

/**
 * The requests one worker life is serving: from a pulled batch to recorded outcomes. A request's
 * engine id is `<request id>/<attempt>`, so a redelivered copy never collides with a late original.
 */
export function createServing(deps: ServingDeps): Serving {
  const { engine, batches, out, logger } = deps;
  const inflight = new Map<string, InFlight>();

  /** Settles a request's part of its batch once its outcome is recorded (or could not be). */
  const record = (f: Pick<InFlight, 'key' | 'request'>, published: Promise<void>) =>
    void published.then(
      () => batches.settle(f.key, true),
      (e: unknown) => (logger.error({ err: e, requestId: f.request.requestId }, 'could not record the outcome'), batches.settle(f.key, false)),
    );
  const end = (f: Pick<InFlight, 'key' | 'request' | 'attempt'>, outcome: Unfinished, reason: string, chunks: number, spend?: AttemptSpend) =>
    record(f, publishUnfinished(out, f.request, f.attempt, outcome, reason, chunks, spend));
  /** What an attempt spent: its prompt (the part read from the prefix cache apart) and `outputTokens`. */
  const spendOf = (f: InFlight, r: SequenceResult, outputTokens: number): AttemptSpend => ({
    usage: { inputTokens: f.request.promptTokens, cachedInputTokens: Math.min(r.cachedTokens, f.request.promptTokens), outputTokens },
    times: usageTimes(f.upstreamMs, r),
  });
  /** What an attempt taken off the GPU spent; undefined when it never got GPU time (nothing to record). */
  const spent = (f: InFlight, r: SequenceResult | undefined): AttemptSpend | undefined => (r && r.gpuMs > 0 ? spendOf(f, r, f.stream.tokens) : undefined);

  function admit(request: RequestSpec, attempt: number, key: string) {
    const f = { key, request, attempt };
    const refusal = preflight(request, {
      nowMs: deps.now(),
      pool: { id: out.pool, model: deps.model },
      workerId: out.workerId,
      cancelled: deps.wasCancelled(request.requestId),
      errorFraction: deps.faults().errorFraction,
      draw: deps.random,
    });
    if (refusal) return end(f, refusal.outcome, refusal.reason, 0);
    // A stop sequence shortens the sequence on the GPU itself: tokens past it are never generated, so never billed.
    const stop = findStop(request.seed, request.maxTokens, request.stop);
    const maxTokens = stop?.tokens ?? request.maxTokens;
    const queued = engine.enqueue({
      id: key,
      promptTokens: Math.max(1, request.promptTokens),
      maxTokens,
      arrivalMs: deps.arrivalMs(),
      prefix: request.prefixBlockTokens > 0 ? { blockTokens: request.prefixBlockTokens, hashes: request.prefixHashes } : undefined,
    });
    if (!queued.ok) return end(f, Outcome.OUTCOME_FAILED, queued.reason, 0);
    const upstreamMs = deps.fromReal(Math.max(0, deps.now() - request.admittedUnixMs));
    const stream = openTokenStream(out, request, attempt, deps.chunkTokens, stop?.visibleChars);
    inflight.set(key, { ...f, stream, finishReason: stop ? 'stop' : 'length', upstreamMs, cutAt: undefined });
  }

  return {
    accept(message) {
      acceptBatch(message, batches, logger, admit);
    },

    apply(step) {
      const cut = deps.faults().cut;
      const ended: Array<() => void> = [];
      for (const t of step.tokens) {
        const f = inflight.get(t.id);
        if (!f) continue;
        if (cut && f.cutAt === undefined) f.cutAt = cutPoint(f.request.maxTokens, cut, deps.random()) ?? null;
        if (f.cutAt === null || f.cutAt === undefined || t.index < f.cutAt) {
          f.stream.push(t.index);
          continue;
        }
        const spend = spent(f, engine.remove(f.key, step.endMs));
        inflight.delete(f.key);
        const reason = `stream cut after ${f.stream.chunks} chunks (${t.index} of ${f.request.maxTokens} tokens generated) by an injected fault`;
        const chunks = f.stream.chunks;
        ended.push(() => end(f, Outcome.OUTCOME_FAILED, reason, chunks, spend));
      }
      for (const r of step.finished) {
        const f = inflight.get(r.id);
        if (!f) continue;
        inflight.delete(r.id);
        f.stream.flush();
        const spend = spendOf(f, r, r.outputTokens);
        ended.push(() => record(f, publishCompleted(out, f.request, f.attempt, spend, f.stream.chunks, f.finishReason)));
        deps.onCompleted(r);
      }
      // The step's chunks leave before the outcomes they end in.
      out.outbox.flush(ended.length ? () => ended.forEach((publish) => publish()) : undefined);
    },

    cancel(requestId, simNowMs) {
      const found = [...inflight.values()].filter((f) => f.request.requestId === requestId);
      for (const f of found) {
        const spend = spent(f, engine.remove(f.key, simNowMs));
        inflight.delete(f.key);
        const { outcome, reason } = stoppedByCaller(f.request, deps.now());
        end(f, outcome, reason, f.stream.chunks, spend);
      }
      return found.length > 0;
    },

    async abandon(simNowMs) {
      const lost = [...inflight.values()];
      inflight.clear();
      await Promise.all(
        lost.map(async (f) => {
          const spend = spent(f, engine.remove(f.key, simNowMs));
          if (!spend) return;
          await publishUsage(out, f.request, f.attempt, Outcome.OUTCOME_FAILED, spend).catch((e: unknown) =>
            logger.error({ err: e, requestId: f.request.requestId }, 'could not record the GPU time of a crashed attempt'),
          );
        }),
      );
    },
  };
}

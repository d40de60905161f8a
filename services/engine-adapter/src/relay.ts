import { Outcome, type RequestSpec } from '@switchyard/contracts';
import { publishCompleted, publishUnfinished, type OutputDeps } from '@switchyard/worker-kit';
import { attemptTimes, attemptUsage, finishReasonOf, type AttemptFacts } from './domain/attempt-report.js';
import type { ChatCompletionBody } from './domain/chat-request.js';
import { failureReason, isRequestError, type UpstreamFailure } from './domain/failures.js';
import { mayReplace } from './domain/replacement.js';
import type { UpstreamUsage } from './domain/sse.js';
import { UpstreamCallError, streamCompletion, type UpstreamCall } from './upstream.js';

export interface RelayDeps {
  readonly out: OutputDeps;
  readonly call: Omit<UpstreamCall, 'body' | 'signal'>;
  /** Output tokens in a piece of text (the tokenizer, without the begin-of-text token). */
  readonly countTokens: (text: string) => number;
  /** Real Unix ms. */
  readonly now: () => number;
  /** How a request stopped by its caller ends (CANCELLED, or EXPIRED past its deadline). */
  readonly stoppedByCaller: (request: RequestSpec) => { outcome: typeof Outcome.OUTCOME_CANCELLED | typeof Outcome.OUTCOME_EXPIRED; reason: string };
  readonly onFirstToken?: (ttftMs: number) => void;
  /** The attempt was abandoned at shutdown (its batch handed back for redelivery): it records nothing. */
  readonly abandoned?: () => boolean;
  /** How the upstream call went, for its circuit breaker: undefined when it worked. Not called for a caller's cancel. */
  readonly onResult?: (failure: UpstreamFailure | undefined) => void;
  /**
   * Asks for the request to be placed on another pool (its upstream failed before the first
   * token); absent: such a failure ends the request FAILED.
   */
  readonly replace?: (reason: string) => Promise<void>;
  /** The attempt's share of the engine's GPU time so far, real ms; called once, when it ends. */
  readonly gpuMs?: () => number;
  /** How the call ended, for the operator's counters (not called for an attempt abandoned at shutdown). */
  readonly onEnd?: (result: 'completed' | 'failed' | 'replaced' | 'cancelled') => void;
}

/** Sends what the outbox holds and waits until it left, so an outcome never overtakes its chunks. */
const flushed = (out: OutputDeps) => new Promise<void>((resolve) => out.outbox.flush(resolve));

/**
 * Runs one attempt of a request upstream and records its one outcome: each upstream delta is
 * relayed as a chunk numbered from 0 with the attempt's number; a finished completion is
 * COMPLETED with the upstream's usage; a caller's cancel is billed what was streamed; every
 * upstream failure before the first token is re-placed on another pool once (`replace`), every
 * other one is FAILED with its reason, and what it streamed before is recorded as the failed
 * attempt's usage, which bills nothing. Resolves once the outcome is recorded; rejects
 * when it could not be (the batch is then handed back).
 */
export async function relayRequest(deps: RelayDeps, request: RequestSpec, attempt: number, body: ChatCompletionBody, signal: AbortSignal): Promise<void> {
  const { out } = deps;
  const sentMs = deps.now();
  let seq = 0;
  let text = '';
  let firstTokenMs: number | undefined;
  let upstreamUsage: UpstreamUsage | undefined;
  let finishReason: string | undefined;
  let gpuMs: number | undefined;
  const facts = (): AttemptFacts => ({
    admittedMs: request.admittedUnixMs || sentMs,
    sentMs,
    firstTokenMs,
    endMs: deps.now(),
    promptTokens: request.promptTokens,
    countedOutputTokens: text ? deps.countTokens(text) : 0,
    upstreamUsage,
    gpuMs: (gpuMs ??= deps.gpuMs?.() ?? 0),
  });
  /** What the attempt streamed so far; undefined when it streamed nothing (nothing to record). */
  const spendSoFar = () => {
    const f = facts();
    return seq > 0 ? { usage: { inputTokens: f.promptTokens, cachedInputTokens: 0, outputTokens: f.countedOutputTokens }, times: attemptTimes(f) } : undefined;
  };
  try {
    for await (const event of streamCompletion({ ...deps.call, body, signal })) {
      if (event.type === 'usage') upstreamUsage = event.usage;
      if (event.type !== 'delta') continue;
      if (event.finishReason) finishReason = event.finishReason;
      if (!event.text) continue;
      if (firstTokenMs === undefined) {
        firstTokenMs = deps.now();
        deps.onFirstToken?.(firstTokenMs - sentMs);
      }
      text += event.text;
      out.outbox.add(request, { requestId: request.requestId, seq: seq++, attempt, text: event.text });
      out.outbox.flush();
    }
  } catch (e) {
    await flushed(out);
    if (deps.abandoned?.()) return;
    const reason =
      e instanceof UpstreamCallError
        ? failureReason(e.failure, { pool: out.pool, chunksSent: seq, tokensSent: text ? deps.countTokens(text) : 0 })
        : `engine adapter error on pool ${out.pool}: ${e instanceof Error ? e.message : String(e)}`;
    if (e instanceof UpstreamCallError) deps.onResult?.(e.failure);
    const requestError = e instanceof UpstreamCallError && isRequestError(e.failure);
    if (deps.replace && !requestError && mayReplace(request, seq, deps.now())) {
      deps.onEnd?.('replaced');
      return deps.replace(reason);
    }
    deps.onEnd?.('failed');
    // A failure bills nothing; what it streamed is recorded as the simulator records a cut attempt.
    return publishUnfinished(out, request, attempt, Outcome.OUTCOME_FAILED, reason, seq, spendSoFar());
  }
  await flushed(out);
  if (deps.abandoned?.()) return;
  if (signal.aborted) {
    // A caller's stop bills what was streamed, as on a simulated GPU.
    const { outcome, reason } = deps.stoppedByCaller(request);
    deps.onEnd?.('cancelled');
    return publishUnfinished(out, request, attempt, outcome, reason, seq, spendSoFar());
  }
  deps.onResult?.(undefined);
  deps.onEnd?.('completed');
  const f = facts();
  return publishCompleted(out, request, attempt, { usage: attemptUsage(f), times: attemptTimes(f) }, seq, finishReasonOf(finishReason));
}

import { publishEvent, publishTerminal, terminalOf, type JetStreamClient, type NatsConnection } from '@switchyard/bus';
import {
  Outcome,
  TokenChunk,
  TokenChunks,
  makeEvent,
  outcomeName,
  subjects,
  type RequestSpec,
  type RequestTerminated,
  type TokenUsage,
} from '@switchyard/contracts';
import { endSpan, SpanKind, startSpan, traceparentOf, type Span } from '@switchyard/telemetry';
import { attemptUsageId } from './domain/attempt-usage.js';

/** Outcomes a worker gives a request it does not complete. */
export type Unfinished = typeof Outcome.OUTCOME_FAILED | typeof Outcome.OUTCOME_CANCELLED | typeof Outcome.OUTCOME_EXPIRED;

/** Where a worker's outputs go and who it says it is. */
export interface OutputDeps {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly pool: string;
  readonly workerId: string;
  /** Real Unix ms, for event envelopes. */
  readonly now: () => number;
  readonly outbox: ChunkOutbox;
}

/**
 * Token chunks on their way out. A request whose relay takes batches (`relayInbox`) has its
 * chunks held until the steps running now are done (the end of this turn of the event loop),
 * then sent with every other chunk for the same relay as one message: at a batch of 64 that is
 * one message a step instead of up to 64. Other requests' chunks go at once.
 */
export interface ChunkOutbox {
  add(request: RequestSpec, chunk: TokenChunk): void;
  /**
   * Sends what is held once this turn's steps are done, then runs `then` (the outcomes these
   * chunks end in, which must not overtake them).
   */
  flush(then?: () => void): void;
}

export function createChunkOutbox(nc: NatsConnection): ChunkOutbox {
  const held = new Map<string, TokenChunk[]>();
  let after: Array<() => void> = [];
  let scheduled = false;
  const send = () => {
    scheduled = false;
    for (const [subject, chunks] of held) nc.publish(subject, TokenChunks.encode({ chunks }).finish());
    held.clear();
    const next = after;
    after = [];
    for (const f of next) f();
  };
  return {
    add(request, chunk) {
      if (!request.relayInbox) return nc.publish(request.inbox, TokenChunk.encode(chunk).finish());
      const chunks = held.get(request.relayInbox);
      if (chunks) chunks.push(chunk);
      else held.set(request.relayInbox, [chunk]);
    },
    flush(then) {
      if (then) after.push(then);
      if (!scheduled) {
        scheduled = true;
        setImmediate(send);
      }
    },
  };
}

/** Milliseconds a request spent (simulated ones on a simulated GPU), as its usage event reports them. */
export interface RequestTimes {
  readonly queueMs: number;
  readonly ttftMs: number;
  readonly totalMs: number;
  readonly gpuMs: number;
}

/** What an attempt spent on the GPU: the tokens it read and streamed, and its times. */
export interface AttemptSpend {
  readonly usage: TokenUsage;
  readonly times: RequestTimes;
}

/** The terminal event of `request` with the facts a consumer needs (tier, model run on, feature), so nobody guesses them. */
const terminalFor = (
  deps: OutputDeps,
  request: RequestSpec,
  fields: Pick<RequestTerminated, 'outcome' | 'reason' | 'attempt' | 'chunkCount'> & Partial<RequestTerminated>,
) =>
  terminalOf({
    requestId: request.requestId,
    tenant: request.tenant,
    pool: deps.pool,
    workerId: deps.workerId,
    tier: request.tier,
    model: request.model,
    feature: request.feature,
    ...fields,
  });

/**
 * The `worker.run` span of an attempt, in the request's trace, recorded as it ends: it began
 * the attempt's reported total time before now (simulated time, on a simulator running at a
 * speed other than 1), or now for one that never ran. Nothing per token.
 */
function attemptSpan(deps: OutputDeps, request: RequestSpec, attempt: number, outcome: Outcome, spend: AttemptSpend | undefined): Span {
  const endMs = deps.now();
  const span = startSpan('worker.run', request.traceparent, { kind: SpanKind.CONSUMER, startTime: endMs - (spend?.times.totalMs ?? 0) });
  if (span.isRecording()) {
    span.setAttributes({
      'switchyard.tenant': request.tenant,
      'switchyard.request_id': request.requestId,
      'switchyard.model': request.model,
      'switchyard.pool': deps.pool,
      'switchyard.worker_id': deps.workerId,
      'switchyard.attempt': attempt,
      'switchyard.outcome': outcomeName(outcome),
      'switchyard.output_tokens': spend?.usage.outputTokens ?? 0,
    });
  }
  return span;
}

/**
 * Records what one attempt spent, with how it ended; metering decides what of it is billable.
 * `traceparent`: the attempt's span; default the one the request came with.
 */
export async function publishUsage(
  deps: OutputDeps,
  request: RequestSpec,
  attempt: number,
  outcome: Outcome,
  spend: AttemptSpend,
  traceparent = request.traceparent,
): Promise<void> {
  const { requestId, tenant } = request;
  const usageId = attemptUsageId({ requestId, outcome, pool: deps.pool, workerId: deps.workerId, attempt });
  await publishEvent(
    deps.js,
    subjects.usageRecorded(tenant),
    makeEvent(
      { id: usageId, tenant, requestId, nowMs: deps.now(), traceparent },
      {
        $case: 'usageRecorded',
        usageRecorded: {
          usageId,
          requestId,
          tenant,
          outcome,
          feature: request.feature,
          model: request.model,
          tier: request.tier,
          pool: deps.pool,
          workerId: deps.workerId,
          usage: spend.usage,
          ...spend.times,
        },
      },
    ),
  );
}

/** Usage first, then the terminal event: metering may see usage before the request is known to be done, never the reverse. */
export async function publishCompleted(
  deps: OutputDeps,
  request: RequestSpec,
  attempt: number,
  spend: AttemptSpend,
  chunkCount: number,
  finishReason: 'stop' | 'length',
): Promise<void> {
  const span = attemptSpan(deps, request, attempt, Outcome.OUTCOME_COMPLETED, spend);
  const traceparent = traceparentOf(span) ?? request.traceparent;
  try {
    await publishUsage(deps, request, attempt, Outcome.OUTCOME_COMPLETED, spend, traceparent);
    await publishTerminal(
      deps.js,
      terminalFor(deps, request, { outcome: Outcome.OUTCOME_COMPLETED, reason: '', attempt, usage: spend.usage, chunkCount, finishReason }),
      deps.now(),
      traceparent,
    );
    endSpan(span);
  } catch (e) {
    endSpan(span, e);
    throw e;
  }
}

/**
 * Ends a request that did not complete, with the reason a caller and an operator can act on.
 * An attempt that used the GPU (`spend`) records its usage first: a caller's cancel or deadline
 * is billed what was streamed, which the terminal event carries too; a failure bills nothing
 * (its GPU time is the platform's cost), so its terminal event carries no usage.
 */
export async function publishUnfinished(
  deps: OutputDeps,
  request: RequestSpec,
  attempt: number,
  outcome: Unfinished,
  reason: string,
  chunkCount: number,
  spend?: AttemptSpend,
): Promise<void> {
  const span = attemptSpan(deps, request, attempt, outcome, spend);
  if (span.isRecording()) span.setAttribute('switchyard.reason', reason);
  const traceparent = traceparentOf(span) ?? request.traceparent;
  try {
    if (spend) await publishUsage(deps, request, attempt, outcome, spend, traceparent);
    const usage = spend && outcome !== Outcome.OUTCOME_FAILED ? spend.usage : undefined;
    await publishTerminal(deps.js, terminalFor(deps, request, { outcome, reason, attempt, chunkCount, usage }), deps.now(), traceparent);
    endSpan(span);
  } catch (e) {
    endSpan(span, e);
    throw e;
  }
}

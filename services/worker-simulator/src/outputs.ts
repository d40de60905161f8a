import { publishEvent, publishTerminal, terminalOf, type JetStreamClient, type NatsConnection } from '@switchyard/bus';
import { Outcome, TokenChunk, TokenChunks, makeEvent, subjects, type RequestSpec, type TokenUsage } from '@switchyard/contracts';
import type { SequenceResult } from './domain/engine.js';
import { tokenText } from './domain/text.js';

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

/**
 * One attempt's token stream to the request's relay: the first token goes out alone, as soon
 * as it exists (time to first token is what a caller waits on), then tokens are grouped
 * `chunkTokens` to a chunk. Chunks are numbered from 0; a retried attempt regenerates the same
 * text from the seed and numbers from 0 again, so the relay drops what it already has.
 */
export interface TokenStream {
  /** Adds output token `index`; sends a chunk when it is full. */
  push(index: number): void;
  /** Sends what is left as a last, shorter chunk. */
  flush(): void;
  /** Chunks sent so far. */
  readonly chunks: number;
}

export function openTokenStream(deps: OutputDeps, request: RequestSpec, attempt: number, chunkTokens: number): TokenStream {
  let text = '';
  let held = 0;
  let seq = 0;
  const send = () => {
    deps.outbox.add(request, { requestId: request.requestId, seq: seq++, attempt, text });
    text = '';
    held = 0;
  };
  return {
    push(index) {
      text += tokenText(request.seed, index);
      if (++held >= chunkTokens || seq === 0) send();
    },
    flush() {
      if (held > 0) send();
    },
    get chunks() {
      return seq;
    },
  };
}

/** Simulated milliseconds a request spent, as its usage event reports them. */
export interface RequestTimes {
  readonly queueMs: number;
  readonly ttftMs: number;
  readonly totalMs: number;
  readonly gpuMs: number;
}

/**
 * A completed sequence's times as the caller lived them: the engine's, plus `upstreamMs` spent
 * before the worker took the request (admission, scheduling, batching).
 */
export function usageTimes(upstreamMs: number, r: SequenceResult): RequestTimes {
  return {
    queueMs: upstreamMs + (r.firstScheduledMs ?? r.finishMs) - r.arrivalMs,
    ttftMs: upstreamMs + (r.firstTokenMs ?? r.finishMs) - r.arrivalMs,
    totalMs: upstreamMs + r.finishMs - r.arrivalMs,
    gpuMs: r.gpuMs,
  };
}

/** Usage first, then the terminal event: metering may see usage before the request is known to be done, never the reverse. */
export async function publishCompleted(
  deps: OutputDeps,
  request: RequestSpec,
  attempt: number,
  usage: TokenUsage,
  times: RequestTimes,
  chunkCount: number,
): Promise<void> {
  const { requestId, tenant } = request;
  const usageId = `usage-${requestId}`;
  await publishEvent(
    deps.js,
    subjects.usageRecorded(tenant),
    makeEvent(
      { id: usageId, tenant, requestId, nowMs: deps.now() },
      {
        $case: 'usageRecorded',
        usageRecorded: {
          usageId,
          requestId,
          tenant,
          outcome: Outcome.OUTCOME_COMPLETED,
          feature: request.feature,
          model: request.model,
          tier: request.tier,
          pool: deps.pool,
          workerId: deps.workerId,
          usage,
          ...times,
        },
      },
    ),
  );
  await publishTerminal(
    deps.js,
    terminalOf({ requestId, tenant, outcome: Outcome.OUTCOME_COMPLETED, reason: '', pool: deps.pool, workerId: deps.workerId, attempt, usage, chunkCount }),
    deps.now(),
  );
}

/** Ends a request that did not complete, with the reason a caller and an operator can act on. */
export async function publishUnfinished(
  deps: OutputDeps,
  request: RequestSpec,
  attempt: number,
  outcome: typeof Outcome.OUTCOME_FAILED | typeof Outcome.OUTCOME_CANCELLED | typeof Outcome.OUTCOME_EXPIRED,
  reason: string,
  chunkCount: number,
): Promise<void> {
  const { requestId, tenant } = request;
  await publishTerminal(deps.js, terminalOf({ requestId, tenant, outcome, reason, pool: deps.pool, workerId: deps.workerId, attempt, chunkCount }), deps.now());
}

import type { RequestSpec } from '@switchyard/contracts';
import type { OutputDeps, RequestTimes } from '@switchyard/worker-kit';
import type { SequenceResult } from './domain/engine.js';
import { tokenText } from './domain/text.js';

/**
 * One attempt's token stream to the request's relay: the first token goes out alone, as soon
 * as it exists (time to first token is what a caller waits on), then tokens are grouped
 * `chunkTokens` to a chunk. Chunks are numbered from 0; a retried attempt regenerates the same
 * text from the seed and numbers from 0 again, so the relay drops what it already has. With
 * `visibleChars` (a stop sequence ends the answer) only that much of the text is sent: the
 * tokens after it still fill chunks, with the text the caller must not see left out.
 */
export interface TokenStream {
  /** Adds output token `index`; sends a chunk when it is full. */
  push(index: number): void;
  /** Sends what is left as a last, shorter chunk. */
  flush(): void;
  /** Chunks sent so far. */
  readonly chunks: number;
  /** Output tokens in the chunks sent so far: what the caller was streamed (held tokens are not). */
  readonly tokens: number;
}

export function openTokenStream(deps: OutputDeps, request: RequestSpec, attempt: number, chunkTokens: number, visibleChars = Infinity): TokenStream {
  let text = '';
  let generatedChars = 0;
  let held = 0;
  let seq = 0;
  let sent = 0;
  const send = () => {
    deps.outbox.add(request, { requestId: request.requestId, seq: seq++, attempt, text });
    sent += held;
    text = '';
    held = 0;
  };
  return {
    push(index) {
      const token = tokenText(request.seed, index);
      text += token.slice(0, Math.max(0, visibleChars - generatedChars));
      generatedChars += token.length;
      if (++held >= chunkTokens || seq === 0) send();
    },
    flush() {
      if (held > 0) send();
    },
    get chunks() {
      return seq;
    },
    get tokens() {
      return sent;
    },
  };
}

/**
 * A sequence's times as the caller lived them (finished, or removed part-way): the engine's, plus `upstreamMs` spent
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

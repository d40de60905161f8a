import type { ChatCompletionBody } from './domain/chat-request.js';
import { httpFailure, type UpstreamFailure } from './domain/failures.js';
import { createSseParser, parseStreamData, type StreamEvent } from './domain/sse.js';

/** An upstream call that failed, with the failure mapped (see `failureReason`). */
export class UpstreamCallError extends Error {
  constructor(readonly failure: UpstreamFailure) {
    super(`upstream call failed: ${failure.kind}`);
  }
}

export interface UpstreamCall {
  /** Base URL up to and including `/v1`. */
  readonly baseUrl: string;
  /** The key itself, read from the environment by main; sent as a bearer token, never logged. */
  readonly apiKey?: string;
  readonly body: ChatCompletionBody;
  readonly firstTokenTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** Aborts the call (the caller cancelled); the generator then ends without an error. */
  readonly signal: AbortSignal;
}

const errorDetail = (e: unknown): string => {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
};

/**
 * Streams one chat completion: yields its events in order and returns once the upstream
 * finished it (a `finish_reason` or `[DONE]`). Throws `UpstreamCallError` for every other end:
 * a non-2xx answer, no first token or silence past the timeouts, a reset connection, a stream
 * that stops before it finished, an error event.
 */
export async function* streamCompletion(call: UpstreamCall): AsyncGenerator<StreamEvent> {
  const abort = new AbortController();
  const onCancel = () => abort.abort();
  call.signal.addEventListener('abort', onCancel, { once: true });
  let timedOut: UpstreamFailure | undefined;
  let timer: NodeJS.Timeout | undefined;
  const arm = (phase: 'first-token' | 'idle') => {
    clearTimeout(timer);
    const afterMs = phase === 'first-token' ? call.firstTokenTimeoutMs : call.idleTimeoutMs;
    timer = setTimeout(() => {
      timedOut = { kind: 'timeout', phase, afterMs };
      abort.abort();
    }, afterMs);
  };
  const fail = (e: unknown): never => {
    if (timedOut) throw new UpstreamCallError(timedOut);
    if (e instanceof UpstreamCallError) throw e;
    throw new UpstreamCallError({ kind: 'connection', detail: errorDetail(e) });
  };
  arm('first-token');
  try {
    let response: Response;
    try {
      response = await fetch(`${call.baseUrl.replace(/\/$/, '')}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(call.apiKey ? { authorization: `Bearer ${call.apiKey}` } : {}) },
        body: JSON.stringify(call.body),
        signal: abort.signal,
      });
    } catch (e) {
      if (call.signal.aborted) return;
      return fail(e);
    }
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      throw new UpstreamCallError(httpFailure(response.status, text, response.headers.get('retry-after')));
    }
    const parser = createSseParser();
    const decoder = new TextDecoder();
    let finished = false;
    let sawToken = false;
    try {
      for await (const bytes of response.body) {
        for (const data of parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }))) {
          for (const event of parseStreamData(data)) {
            if (event.type === 'error') throw new UpstreamCallError({ kind: 'stream-error', detail: event.message });
            if (event.type === 'done') finished = true;
            if (event.type === 'delta') {
              if (event.finishReason) finished = true;
              if (event.text && !sawToken) sawToken = true;
            }
            yield event;
          }
        }
        // Keep-alives before the first token do not extend its deadline.
        if (sawToken) arm('idle');
      }
    } catch (e) {
      if (call.signal.aborted) return;
      return fail(e);
    }
    if (!finished) throw new UpstreamCallError({ kind: 'connection', detail: 'the stream ended before the completion finished' });
  } finally {
    clearTimeout(timer);
    call.signal.removeEventListener('abort', onCancel);
  }
}

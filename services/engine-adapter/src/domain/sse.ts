/** Splits a server-sent event stream into the `data:` payloads of its events, across reads. */
export interface SseParser {
  /** Feeds the next piece of the stream; returns the data of every event it completed. */
  feed(text: string): string[];
}

export function createSseParser(): SseParser {
  let buffer = '';
  let data: string[] = [];
  return {
    feed(text) {
      buffer += text;
      const events: string[] = [];
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (line === '') {
          if (data.length > 0) events.push(data.join('\n'));
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
        }
        // Comments (`:`), `event:`, `id:` and `retry:` lines carry nothing a completion needs.
      }
      return events;
    },
  };
}

/** Token counts an upstream reports in its last chunk (`stream_options.include_usage`). */
export interface UpstreamUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedPromptTokens: number;
}

/** One event of a chat completion stream, as the adapter needs it. */
export type StreamEvent =
  | { readonly type: 'delta'; readonly text: string; readonly finishReason?: string }
  | { readonly type: 'usage'; readonly usage: UpstreamUsage }
  | { readonly type: 'done' }
  | { readonly type: 'error'; readonly message: string };

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

/**
 * Reads one `data:` payload of an OpenAI chat completion stream. A chunk may carry text, a
 * finish reason and usage at once, so it can give several events; an `error` object (vLLM and
 * providers send one mid-stream) and unparseable data are errors, never skipped.
 */
export function parseStreamData(data: string): StreamEvent[] {
  if (data.trim() === '[DONE]') return [{ type: 'done' }];
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return [{ type: 'error', message: `unreadable stream event: ${data.slice(0, 120)}` }];
  }
  const o = (json ?? {}) as Record<string, unknown>;
  if (o.error) {
    const e = o.error as Record<string, unknown>;
    return [{ type: 'error', message: typeof e.message === 'string' ? e.message : JSON.stringify(o.error).slice(0, 200) }];
  }
  const events: StreamEvent[] = [];
  const choice = Array.isArray(o.choices) ? (o.choices[0] as Record<string, unknown> | undefined) : undefined;
  if (choice) {
    const delta = (choice.delta ?? {}) as Record<string, unknown>;
    const text = typeof delta.content === 'string' ? delta.content : typeof choice.text === 'string' ? choice.text : '';
    const finishReason = typeof choice.finish_reason === 'string' ? choice.finish_reason : undefined;
    if (text || finishReason) events.push({ type: 'delta', text, ...(finishReason ? { finishReason } : {}) });
  }
  if (o.usage && typeof o.usage === 'object') {
    const u = o.usage as Record<string, unknown>;
    const details = (u.prompt_tokens_details ?? {}) as Record<string, unknown>;
    events.push({
      type: 'usage',
      usage: { promptTokens: count(u.prompt_tokens), completionTokens: count(u.completion_tokens), cachedPromptTokens: count(details.cached_tokens) },
    });
  }
  return events;
}

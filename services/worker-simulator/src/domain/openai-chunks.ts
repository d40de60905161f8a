import type { CompletionKind } from './completion-request.js';

/** What every chunk (or the one body) of a completion repeats. */
export interface CompletionIdentity {
  readonly kind: CompletionKind;
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  /** The served model name the caller asked for. */
  readonly model: string;
}

export type FinishReason = 'stop' | 'length';

export interface OpenAiUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

/** OpenAI's usage, with the prompt tokens read from the engine's prefix cache as vLLM reports them. */
export const usageOf = (promptTokens: number, completionTokens: number, cachedTokens = 0): OpenAiUsage => ({
  prompt_tokens: promptTokens,
  completion_tokens: completionTokens,
  total_tokens: promptTokens + completionTokens,
  prompt_tokens_details: { cached_tokens: cachedTokens },
});

const head = (c: CompletionIdentity, streamed: boolean) => ({
  id: c.id,
  object: c.kind === 'chat' ? (streamed ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion',
  created: c.created,
  model: c.model,
});

/**
 * One streamed choice: `text` of a token (the first chat chunk also names the assistant role),
 * or an empty delta with the finish reason.
 */
export function choiceChunk(c: CompletionIdentity, text: string, finishReason: FinishReason | null, first = false) {
  const choice =
    c.kind === 'chat'
      ? {
          index: 0,
          delta: text === '' && finishReason ? {} : { ...(first ? { role: 'assistant' } : {}), content: text },
          logprobs: null,
          finish_reason: finishReason,
        }
      : { index: 0, text, logprobs: null, finish_reason: finishReason };
  return { ...head(c, true), choices: [choice] };
}

/** The last chunk of a stream asked for `stream_options.include_usage`: no choices, only usage. */
export const usageChunk = (c: CompletionIdentity, usage: OpenAiUsage) => ({ ...head(c, true), choices: [], usage });

/** A whole completion in one body, for a request that did not stream. */
export function completionBody(c: CompletionIdentity, text: string, finishReason: FinishReason, usage: OpenAiUsage) {
  const choice =
    c.kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: finishReason }
      : { index: 0, text, logprobs: null, finish_reason: finishReason };
  return { ...head(c, false), choices: [choice], usage };
}

/** One server-sent event carrying `data` (JSON, or the `[DONE]` marker). */
export const sseEvent = (data: unknown): string => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

import { DomainError, type TokenUsage } from '@switchyard/contracts';
import { commonCall, usageOf, type CallHeaders, type OpenAiCall, type OpenAiCommonBody } from './openai-request.js';

/** The subset of an OpenAI chat completion request Switchyard understands. */
export interface ChatCompletionBody extends OpenAiCommonBody {
  messages?: unknown;
  logprobs?: unknown;
  top_logprobs?: unknown;
  response_format?: unknown;
  tool_choice?: unknown;
  modalities?: unknown;
}

const invalid = (message: string) => new DomainError('INVALID_ARGUMENT', message);

/** Roles a chat history may hold (`developer` is OpenAI's newer name for `system`). */
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

/** The text of a message's content: a string, or text parts; a part the model cannot take is refused by name. */
function contentText(content: unknown, at: string, model: string): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  return content
    .map((part: unknown, j: number) => {
      const p = (part ?? {}) as { type?: unknown; text?: unknown; refusal?: unknown };
      if (p.type === 'text' && typeof p.text === 'string') return p.text;
      if (p.type === 'refusal' && typeof p.refusal === 'string') return p.refusal;
      const type = typeof p.type === 'string' && p.type.length <= 32 ? `"${p.type}"` : 'unknown';
      throw invalid(`${at}.content[${j}] is a part of type ${type}, which the model "${model}" cannot take; it reads text parts only`);
    })
    .join('');
}

/** A tool call of an assistant message, as the chat template lays it out: `name(arguments)`. */
function toolCallText(call: unknown, at: string): string {
  const fn = (call as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
  if (typeof fn?.name !== 'string' || typeof fn.arguments !== 'string') throw invalid(`${at} needs "function": {"name", "arguments"} as strings`);
  return `${fn.name}(${fn.arguments})`;
}

/**
 * One message as a `role: content` line, the way a chat template lays it out for the model.
 * An assistant turn may carry `tool_calls` instead of content (`content: null`), and a
 * `tool` turn answers one of them by `tool_call_id`: both are part of any tool-using history.
 */
function renderMessage(m: unknown, i: number, model: string): string {
  const at = `messages[${i}]`;
  if (typeof m !== 'object' || m === null) throw invalid(`${at} must be an object with "role" and "content"`);
  const msg = m as { role?: unknown; content?: unknown; tool_calls?: unknown; tool_call_id?: unknown };
  if (typeof msg.role !== 'string' || !ROLES.has(msg.role)) {
    throw invalid(`${at} needs a "role" of ${[...ROLES].join(', ')}`);
  }
  const text = msg.content === null || msg.content === undefined ? undefined : contentText(msg.content, at, model);
  if (msg.content !== null && msg.content !== undefined && text === undefined) throw invalid(`${at} needs a string "role" and "content"`);
  if (msg.role === 'assistant' && Array.isArray(msg.tool_calls) && msg.tool_calls.length > 0) {
    const calls = msg.tool_calls.map((c: unknown, j: number) => toolCallText(c, `${at}.tool_calls[${j}]`)).join('; ');
    return `assistant: ${text ? `${text} ` : ''}[tool calls: ${calls}]`;
  }
  if (text === undefined) throw invalid(`${at} needs "content"${msg.role === 'assistant' ? ' or "tool_calls"' : ''}`);
  if (msg.role === 'tool') {
    if (typeof msg.tool_call_id !== 'string') throw invalid(`${at} is a tool result and needs the "tool_call_id" it answers`);
    return `tool (${msg.tool_call_id}): ${text}`;
  }
  return `${msg.role}: ${text}`;
}

/**
 * Options whose answer the model cannot give, refused rather than answered as if they were
 * met: token log-probabilities, structured output, a forced tool call, audio output. Tool
 * definitions alone are accepted (the model answers in text, as `tool_choice: "auto"` allows).
 */
function refuseUnservable(body: ChatCompletionBody): void {
  if (body.logprobs === true || (body.top_logprobs !== undefined && body.top_logprobs !== null)) throw invalid('"logprobs" is not served');
  const format = (body.response_format as { type?: unknown } | null | undefined)?.type;
  if (format !== undefined && format !== 'text') throw invalid('"response_format" other than {"type": "text"} is not served');
  const choice = body.tool_choice;
  if (choice !== undefined && choice !== null && choice !== 'auto' && choice !== 'none') {
    throw invalid('"tool_choice" may be "auto" or "none": the model does not call tools');
  }
  if (Array.isArray(body.modalities) && body.modalities.some((m) => m !== 'text')) throw invalid('"modalities" other than "text" are not served');
}

/** Turns an OpenAI chat request into a call of Switchyard's generation. */
export function chatToGeneration(body: ChatCompletionBody, headers: CallHeaders, nowMs = 0): OpenAiCall {
  if (typeof body.model !== 'string') throw invalid('"model" is required');
  refuseUnservable(body);
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw invalid('"messages" must be a non-empty array');
  const model = body.model.slice(0, 64);
  const lines = body.messages.map((m: unknown, i: number) => renderMessage(m, i, model));
  return commonCall(body, lines.join('\n'), headers, nowMs);
}

export interface CompletionMeta {
  readonly requestId: string;
  readonly model: string;
  readonly createdSec: number;
}

export const completionId = (requestId: string) => `chatcmpl-${requestId}`;

/** One generated choice: its text and why it ended. */
export interface ChoiceResult {
  readonly text: string;
  readonly finishReason: string;
}

export function chatCompletion(meta: CompletionMeta, choices: readonly ChoiceResult[], usage: TokenUsage) {
  return {
    id: completionId(meta.requestId),
    object: 'chat.completion',
    created: meta.createdSec,
    model: meta.model,
    choices: choices.map((c, index) => ({
      index,
      message: { role: 'assistant', content: c.text, refusal: null },
      logprobs: null,
      finish_reason: c.finishReason,
    })),
    usage: usageOf(usage),
  };
}

/** A streamed chunk of choice `index`; the last one of each choice carries its `finish_reason`. */
export function chatChunk(meta: CompletionMeta, delta: { role?: string; content?: string }, finishReason: string | null, index = 0) {
  return {
    id: completionId(meta.requestId),
    object: 'chat.completion.chunk',
    created: meta.createdSec,
    model: meta.model,
    choices: [{ index, delta, logprobs: null, finish_reason: finishReason }],
  };
}

/** The chunk `stream_options.include_usage` asks for: after the last choice chunk, no choices, the usage. */
export function chatUsageChunk(meta: CompletionMeta, usage: TokenUsage) {
  return { id: completionId(meta.requestId), object: 'chat.completion.chunk', created: meta.createdSec, model: meta.model, choices: [], usage: usageOf(usage) };
}

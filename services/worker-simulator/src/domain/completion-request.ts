import { openAiErrorReply, type OpenAiErrorReply } from './openai-error.js';

/** Which OpenAI endpoint a request came to: `/v1/chat/completions` or `/v1/completions`. */
export type CompletionKind = 'chat' | 'text';

/** A validated completion request, as the engine server needs it. */
export interface CompletionRequest {
  readonly kind: CompletionKind;
  /** The `model` field; undefined when the caller left it out (the first served name is meant). */
  readonly model: string | undefined;
  /** The text the prompt tokens are counted from: the prompt, or the messages' text joined by newlines. */
  readonly promptText: string;
  readonly maxTokens: number;
  readonly stream: boolean;
  /** `stream_options.include_usage`: a last chunk carries the usage. */
  readonly includeUsage: boolean;
  /** Seeds the simulated answer; undefined: the server draws one. */
  readonly seed: number | undefined;
  readonly stop: readonly string[];
}

export type ParsedRequest = { readonly ok: true; readonly request: CompletionRequest } | { readonly ok: false; readonly error: OpenAiErrorReply };

/** `max_tokens` when the caller sends none. vLLM would fill the context; a bounded default keeps a forgotten field from holding a slot for minutes. */
export const DEFAULT_MAX_TOKENS = 256;

class Invalid extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A message's text: a string, or the `text` parts of a content array (other parts carry no tokens here). */
function contentText(content: unknown, at: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part, i) => {
        if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') throw new Invalid(`${at}[${i}] must be a text part`, 'messages');
        return part.text;
      })
      .join('');
  }
  throw new Invalid(`${at} must be a string or an array of text parts`, 'messages');
}

function promptOf(kind: CompletionKind, body: Record<string, unknown>): string {
  if (kind === 'chat') {
    const { messages } = body;
    if (!Array.isArray(messages) || messages.length === 0) throw new Invalid('"messages" must be a non-empty array', 'messages');
    return messages
      .map((m, i) => {
        if (!isObject(m) || typeof m.role !== 'string') throw new Invalid(`messages[${i}] must be an object with a string "role"`, 'messages');
        return contentText(m.content, `messages[${i}].content`);
      })
      .join('\n');
  }
  const { prompt } = body;
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') return prompt[0];
  throw new Invalid('"prompt" must be a string (or an array of one string)', 'prompt');
}

function maxTokensOf(body: Record<string, unknown>): number {
  const field = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
  const v = body[field];
  if (v === undefined || v === null) return DEFAULT_MAX_TOKENS;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Invalid(`"${field}" must be a whole number >= 1, got ${JSON.stringify(v)}`, field);
  return v;
}

function stopOf(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  throw new Invalid('"stop" must be a string or an array of strings', 'stop');
}

function optional<T>(body: Record<string, unknown>, field: string, check: (v: unknown) => v is T, what: string): T | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!check(v)) throw new Invalid(`"${field}" must be ${what}`, field);
  return v;
}

const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isString = (v: unknown): v is string => typeof v === 'string';
const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * Reads the body of a `POST /v1/chat/completions` or `/v1/completions`. Every refusal is a 400
 * naming the field, as vLLM's server gives it; fields the simulator has no use for (temperature,
 * top_p, ...) are accepted and ignored.
 */
export function parseCompletionRequest(kind: CompletionKind, raw: string): ParsedRequest {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { ok: false, error: openAiErrorReply(400, 'invalid_json', 'the request body is not valid JSON') };
  }
  if (!isObject(body)) return { ok: false, error: openAiErrorReply(400, 'invalid_request', 'the request body must be a JSON object') };
  try {
    const streamOptions = body.stream_options;
    if (streamOptions !== undefined && streamOptions !== null && !isObject(streamOptions))
      throw new Invalid('"stream_options" must be an object', 'stream_options');
    const n = optional(body, 'n', isInteger, 'a whole number');
    if (n !== undefined && n !== 1) throw new Invalid('"n" must be 1: the simulator gives one choice', 'n');
    return {
      ok: true,
      request: {
        kind,
        model: optional(body, 'model', isString, 'a string'),
        promptText: promptOf(kind, body),
        maxTokens: maxTokensOf(body),
        stream: optional(body, 'stream', isBoolean, 'true or false') ?? false,
        includeUsage: isObject(streamOptions) && streamOptions.include_usage === true,
        seed: optional(body, 'seed', isInteger, 'a whole number'),
        stop: stopOf(body.stop),
      },
    };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, error: openAiErrorReply(400, 'invalid_request', e.message, e.param) };
    throw e;
  }
}

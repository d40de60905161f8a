import { DomainError, parseTier, tierFromName, type ErrorCode, type TokenUsage } from '@switchyard/contracts';
import type { GenerationInput } from './validate.js';

/** The subset of an OpenAI chat completion request Switchyard understands. */
export interface ChatCompletionBody {
  model?: unknown;
  messages?: unknown;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
  stream?: unknown;
  seed?: unknown;
  user?: unknown;
}

/**
 * Turns an OpenAI chat request into Switchyard's generation input. Messages are rendered
 * as `role: content` lines, the way a chat template would lay them out for the model.
 */
export function chatToGeneration(body: ChatCompletionBody, headers: { tier?: string; idempotencyKey?: string }): GenerationInput & { stream: boolean } {
  const invalid = (m: string) => new DomainError('INVALID_ARGUMENT', m);
  if (typeof body.model !== 'string') throw invalid('"model" is required');
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw invalid('"messages" must be a non-empty array');
  const lines = body.messages.map((m: unknown, i: number) => {
    if (typeof m !== 'object' || m === null) throw invalid(`messages[${i}] must be an object with "role" and "content"`);
    const msg = m as { role?: unknown; content?: unknown };
    const content =
      typeof msg.content === 'string'
        ? msg.content
        : Array.isArray(msg.content)
          ? msg.content.map((p: { text?: unknown }) => (typeof p?.text === 'string' ? p.text : '')).join('')
          : undefined;
    if (typeof msg.role !== 'string' || content === undefined) throw invalid(`messages[${i}] needs a string "role" and "content"`);
    return `${msg.role}: ${content}`;
  });
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? 0;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 0) throw invalid('"max_tokens" must be a non-negative integer');
  // OpenAI sends `"seed": null` for none; the range is checked with the gRPC fields.
  const seed = body.seed ?? 0;
  if (typeof seed !== 'number') throw invalid('"seed" must be an integer');
  const named = headers.tier ? parseTier(headers.tier) : 'realtime';
  if (named === undefined) throw invalid('header x-switchyard-tier must be realtime, internal or batch');
  return {
    model: body.model,
    prompt: lines.join('\n'),
    maxTokens,
    tier: tierFromName(named),
    idempotencyKey: headers.idempotencyKey ?? '',
    feature: '',
    seed,
    stream: body.stream === true,
  };
}

export interface CompletionMeta {
  readonly requestId: string;
  readonly model: string;
  readonly createdSec: number;
}

export const completionId = (requestId: string) => `chatcmpl-${requestId}`;

export function chatCompletion(meta: CompletionMeta, text: string, usage: TokenUsage, finishReason: string) {
  return {
    id: completionId(meta.requestId),
    object: 'chat.completion',
    created: meta.createdSec,
    model: meta.model,
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: finishReason }],
    usage: { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens },
  };
}

export function chatChunk(meta: CompletionMeta, delta: { role?: string; content?: string }, finishReason: string | null, usage?: TokenUsage) {
  return {
    id: completionId(meta.requestId),
    object: 'chat.completion.chunk',
    created: meta.createdSec,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(usage
      ? { usage: { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens } }
      : {}),
  };
}

const httpStatus: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  FAILED_PRECONDITION: 409,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  DATA_LOSS: 502,
};

const errorType: Partial<Record<ErrorCode, string>> = {
  INVALID_ARGUMENT: 'invalid_request_error',
  UNAUTHENTICATED: 'authentication_error',
  PERMISSION_DENIED: 'permission_error',
  RESOURCE_EXHAUSTED: 'rate_limit_error',
};

/** An error as OpenAI clients expect it: HTTP status plus `{ error: { message, type, code } }`. */
export function openAiError(code: ErrorCode, message: string) {
  return {
    status: httpStatus[code],
    body: { error: { message, type: errorType[code] ?? 'api_error', code: code.toLowerCase(), param: null } },
  };
}

/** Codes for the refusals the HTTP server makes before any handler runs. */
const refusalCodes: Partial<Record<number, string>> = {
  400: 'invalid_request',
  404: 'not_found',
  408: 'request_timeout',
  413: 'request_too_large',
  415: 'unsupported_media_type',
  431: 'request_header_fields_too_large',
};

/**
 * The body of a refusal the HTTP layer makes itself (no such route, body too large, bad JSON,
 * broken HTTP), in the shape OpenAI clients parse, so they show the message instead of a
 * parse failure.
 */
export function httpRefusal(status: number, message: string) {
  return { error: { message, type: status >= 500 ? 'api_error' : 'invalid_request_error', code: refusalCodes[status] ?? null, param: null } };
}

/**
 * Status and message for a request node's HTTP parser refused (`clientError`), by the
 * parser's error code; the message names the code, never the bytes that were sent.
 */
export function clientErrorRefusal(errorCode: string | undefined): { status: number; message: string } {
  if (errorCode === 'HPE_HEADER_OVERFLOW') return { status: 431, message: 'request headers are too large: send at most 16 KiB of headers' };
  if (errorCode === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, message: 'the request did not arrive in time' };
  return { status: 400, message: `malformed HTTP request (${errorCode ?? 'unknown error'}): check Content-Length and Transfer-Encoding` };
}

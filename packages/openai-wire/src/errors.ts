import type { ErrorCode } from '@switchyard/contracts';

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
  NOT_FOUND: 'invalid_request_error',
  UNAUTHENTICATED: 'authentication_error',
  PERMISSION_DENIED: 'permission_error',
  RESOURCE_EXHAUSTED: 'rate_limit_error',
};

/** Reasons OpenAI gives a type of their own, and the request field each is about. */
const reasonFacts: Readonly<Record<string, { type?: string; param: string | null }>> = {
  model_not_found: { param: 'model' },
  insufficient_quota: { type: 'insufficient_quota', param: null },
  context_length_exceeded: { param: 'messages' },
};

/**
 * An error as OpenAI clients expect it: HTTP status plus `{ error: { message, type, code,
 * param } }`. A domain error's `reason` (`model_not_found`, `insufficient_quota`,
 * `context_length_exceeded`) is the `code` OpenAI sends for the same case; without one, the
 * code is the domain code in lower case.
 */
export function openAiError(code: ErrorCode, message: string, reason?: string) {
  const facts = reason ? reasonFacts[reason] : undefined;
  return {
    status: httpStatus[code],
    body: { error: { message, type: facts?.type ?? errorType[code] ?? 'api_error', code: reason ?? code.toLowerCase(), param: facts?.param ?? null } },
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

/**
 * `retry-after` in whole seconds (at least 1) when the error suggests a delay; undefined
 * otherwise, so no empty header is sent.
 */
export function retryAfterSeconds(retryAfterMs: number | undefined): string | undefined {
  return retryAfterMs === undefined || retryAfterMs <= 0 ? undefined : String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
}

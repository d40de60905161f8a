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
  UNAUTHENTICATED: 'authentication_error',
  PERMISSION_DENIED: 'permission_error',
  NOT_FOUND: 'invalid_request_error',
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

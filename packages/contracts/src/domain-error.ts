/**
 * The one error type of Switchyard's domain code. Edges map `code` to a gRPC status or a
 * JetStream ack decision; callers check the code, never `instanceof`.
 */
export const errorCodes = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  NOT_FOUND: 'NOT_FOUND',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
  /** Work was done (and billed) but its result did not reach the caller whole. Never retried blindly. */
  DATA_LOSS: 'DATA_LOSS',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface DomainErrorOptions {
  readonly cause?: unknown;
  /** Whether trying again later may succeed. Defaults to true for UNAVAILABLE only. */
  readonly retryable?: boolean;
  /** Suggested delay before a retry, for RESOURCE_EXHAUSTED and UNAVAILABLE. */
  readonly retryAfterMs?: number;
  /**
   * A finer reason within the code, for edges whose protocol names one: the OpenAI facade
   * sends it as `error.code` (`model_not_found`, `insufficient_quota`,
   * `context_length_exceeded`). Default none (the code, lower-cased).
   */
  readonly reason?: string;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly reason: string | undefined;

  constructor(code: ErrorCode, message: string, options: DomainErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'DomainError';
    this.code = code;
    this.retryable = options.retryable ?? code === 'UNAVAILABLE';
    this.retryAfterMs = options.retryAfterMs;
    this.reason = options.reason;
  }
}

export function isDomainError(e: unknown): e is DomainError {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'DomainError' && 'code' in e;
}

import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { RETRY_AFTER_MS, isDomainError, type ErrorCode } from '@switchyard/contracts';

const statusByCode: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  NOT_FOUND: status.NOT_FOUND,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  UNAVAILABLE: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
  DATA_LOSS: status.DATA_LOSS,
};

/**
 * Longest status message sent, in UTF-8 bytes. The message travels in the `grpc-message`
 * trailer; a message that echoes unbounded input (a 100 KB id) made a trailer the client's
 * HTTP/2 session could not take, and every later call on that connection hung.
 */
export const MAX_STATUS_MESSAGE_BYTES = 1024;

/** Cuts a message to `MAX_STATUS_MESSAGE_BYTES` at a character boundary, marking the cut with "…". */
export function capStatusMessage(message: string): string {
  if (Buffer.byteLength(message) <= MAX_STATUS_MESSAGE_BYTES) return message;
  const bytes = Buffer.from(message);
  // Room for the 3-byte ellipsis; step back over UTF-8 continuation bytes (10xxxxxx).
  let end = MAX_STATUS_MESSAGE_BYTES - 3;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString()}…`;
}

/**
 * Maps any error to the status a gRPC client sees. Domain errors keep their message (it is
 * written for the caller), capped in length; anything else becomes INTERNAL without
 * internals leaking out.
 */
export function toGrpcError(error: unknown): Partial<ServiceError> {
  if (!isDomainError(error)) {
    return { code: status.INTERNAL, details: 'internal error; the request id in the server log explains it' };
  }
  const metadata = new Metadata();
  if (error.retryAfterMs !== undefined) metadata.set(RETRY_AFTER_MS, String(error.retryAfterMs));
  return { code: statusByCode[error.code], details: capStatusMessage(error.message), metadata };
}

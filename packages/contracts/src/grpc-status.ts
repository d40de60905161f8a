import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { isDomainError, type ErrorCode } from './domain-error.js';

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
};

/** Metadata key carrying the suggested retry delay on RESOURCE_EXHAUSTED / UNAVAILABLE. */
export const RETRY_AFTER_MS = 'retry-after-ms';

/**
 * Maps any error to the status a gRPC client sees. Domain errors keep their message (it is
 * written for the caller); anything else becomes INTERNAL without internals leaking out.
 */
export function toGrpcError(error: unknown): Partial<ServiceError> {
  if (!isDomainError(error)) {
    return { code: status.INTERNAL, details: 'internal error; the request id in the server log explains it' };
  }
  const metadata = new Metadata();
  if (error.retryAfterMs !== undefined) metadata.set(RETRY_AFTER_MS, String(error.retryAfterMs));
  return { code: statusByCode[error.code], details: error.message, metadata };
}

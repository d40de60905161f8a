/**
 * Metadata key (gRPC trailer) carrying the suggested retry delay in milliseconds on
 * RESOURCE_EXHAUSTED and UNAVAILABLE. Part of the wire contract: clients read it.
 */
export const RETRY_AFTER_MS = 'retry-after-ms';

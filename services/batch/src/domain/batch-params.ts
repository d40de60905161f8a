import { DomainError } from '@switchyard/contracts';
import { isBatchEndpoint, BATCH_ENDPOINTS, type BatchEndpoint } from './batch-input.js';

/** What a caller asks for when it creates a batch (HTTP body or gRPC request). */
export interface BatchParamsInput {
  readonly inputFileId?: unknown;
  readonly endpoint?: unknown;
  readonly completionWindow?: unknown;
  readonly metadata?: unknown;
}

export interface BatchParams {
  readonly inputFileId: string;
  readonly endpoint: BatchEndpoint;
  readonly completionWindow: '24h';
  readonly metadata: Record<string, string>;
}

/** OpenAI's limits on batch metadata. */
export const METADATA_LIMITS = { pairs: 16, keyLength: 64, valueLength: 512 } as const;

/** The shape of every file id this service hands out; anything else names no file. */
export const FILE_ID = /^file-[A-Za-z0-9]{1,64}$/;
/** The shape of every batch id this service hands out; anything else names no batch. */
export const BATCH_ID = /^batch_[A-Za-z0-9]{1,64}$/;

/** Checks a create-batch request; every refusal names the field and what would be accepted. */
export function batchParams(input: BatchParamsInput): BatchParams {
  const bad = (message: string) => new DomainError('INVALID_ARGUMENT', message);
  if (typeof input.inputFileId !== 'string' || !FILE_ID.test(input.inputFileId)) {
    throw bad('"input_file_id" must be the id of an uploaded file ("file-..."); upload one with POST /v1/files, purpose "batch"');
  }
  if (!isBatchEndpoint(input.endpoint)) throw bad(`"endpoint" must be one of ${BATCH_ENDPOINTS.join(', ')}`);
  if (input.completionWindow !== '24h') throw bad('"completion_window" must be "24h", the only window offered');
  const metadata: Record<string, string> = {};
  if (input.metadata !== undefined && input.metadata !== null) {
    if (typeof input.metadata !== 'object' || Array.isArray(input.metadata)) throw bad('"metadata" must be an object of string values');
    const entries = Object.entries(input.metadata);
    if (entries.length > METADATA_LIMITS.pairs) throw bad(`"metadata" holds at most ${METADATA_LIMITS.pairs} pairs`);
    for (const [k, v] of entries) {
      if (typeof v !== 'string') throw bad(`"metadata.${k}" must be a string`);
      // Postgres text and jsonb hold no NUL character: refused here, not failed on insert.
      if (k.includes('\0') || v.includes('\0')) throw bad('metadata keys and values must not contain NUL characters');
      if (k.length > METADATA_LIMITS.keyLength) throw bad(`metadata keys are at most ${METADATA_LIMITS.keyLength} characters`);
      if (v.length > METADATA_LIMITS.valueLength) throw bad(`"metadata.${k}" is longer than ${METADATA_LIMITS.valueLength} characters`);
      metadata[k] = v;
    }
  }
  return { inputFileId: input.inputFileId, endpoint: input.endpoint, completionWindow: '24h', metadata };
}

import type { BatchEndpoint } from './batch-input.js';

/** Where a batch stands, with OpenAI's names. */
export const BATCH_STATUSES = ['validating', 'in_progress', 'finalizing', 'completed', 'failed', 'expired', 'cancelling', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** Why a batch stops before running every line; null while it runs to the end. */
export type StopReason = 'cancelled' | 'expired' | null;

export interface BatchFileError {
  readonly code: string;
  readonly message: string;
  /** 1-based input line; absent for errors about the whole file. */
  readonly line?: number;
}

/** One batch as stored (the `batches` table). Times in Unix ms. */
export interface BatchRecord {
  readonly id: string;
  readonly tenant: string;
  readonly endpoint: BatchEndpoint;
  readonly inputFileId: string;
  readonly completionWindow: string;
  readonly status: BatchStatus;
  readonly stopReason: StopReason;
  readonly outputFileId: string | null;
  readonly errorFileId: string | null;
  /** Lines of the input file that are requests (valid or not), once validated. */
  readonly total: number;
  readonly completed: number;
  readonly failed: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly errors: readonly BatchFileError[];
  readonly createdMs: number;
  readonly expiresMs: number;
  readonly inProgressMs: number | null;
  readonly finalizingMs: number | null;
  readonly cancellingMs: number | null;
  readonly endedMs: number | null;
}

export const isEnded = (s: BatchStatus) => s === 'completed' || s === 'failed' || s === 'expired' || s === 'cancelled';

/** The status a batch ends in once its last line is settled (a batch with no runnable line failed at validation). */
export const endStatus = (stopReason: StopReason): BatchStatus => stopReason ?? 'completed';

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

/** The batch object of OpenAI's Batch API. */
export function batchObject(b: BatchRecord): Record<string, unknown> {
  const endedAs = (s: BatchStatus) => (b.status === s ? seconds(b.endedMs) : null);
  return {
    id: b.id,
    object: 'batch',
    endpoint: b.endpoint,
    errors: b.errors.length ? { object: 'list', data: b.errors.map((e) => ({ code: e.code, message: e.message, param: null, line: e.line ?? null })) } : null,
    input_file_id: b.inputFileId,
    completion_window: b.completionWindow,
    status: b.status,
    output_file_id: b.outputFileId,
    error_file_id: b.errorFileId,
    created_at: seconds(b.createdMs),
    in_progress_at: seconds(b.inProgressMs),
    expires_at: seconds(b.expiresMs),
    finalizing_at: seconds(b.finalizingMs),
    completed_at: endedAs('completed'),
    failed_at: endedAs('failed'),
    expired_at: endedAs('expired'),
    cancelling_at: seconds(b.cancellingMs),
    cancelled_at: endedAs('cancelled'),
    request_counts: { total: b.total, completed: b.completed, failed: b.failed },
    metadata: b.metadata,
  };
}

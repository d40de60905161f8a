import type { Principal } from '@switchyard/auth';
import { DomainError } from '@switchyard/contracts';
import type { BatchStore } from './batch-store.js';
import { BATCH_ID, batchParams, FILE_ID, type BatchParamsInput } from './domain/batch-params.js';
import type { BatchRecord } from './domain/batch-record.js';
import { createLineSplitter, LineTooLongError } from './domain/jsonl-lines.js';
import type { FileRecord, FileStore } from './file-store.js';
import type { Queues } from './queues.js';

export interface UploadLimits {
  /** Largest upload, in bytes. Default 200 MB (OpenAI's). */
  readonly maxFileBytes: number;
  /** Most lines of one batch file. Default 50,000 (OpenAI's). */
  readonly maxLines: number;
  /** Longest line, in bytes: longer refuses the upload. Default 2 MiB. */
  readonly maxLineBytes: number;
  /** Largest request body of one line: larger is that line's error. Default 1 MiB (admission's body limit). */
  readonly maxRequestBytes: number;
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { maxFileBytes: 200_000_000, maxLines: 50_000, maxLineBytes: 2 * 1024 * 1024, maxRequestBytes: 1024 * 1024 };

export interface BatchApiDeps {
  readonly files: FileStore;
  readonly store: BatchStore;
  readonly queues: Queues;
  readonly uploadLimits: UploadLimits;
  /** How long a batch may take; OpenAI's "24h". Tests shorten it. */
  readonly completionWindowMs: number;
  readonly now: () => number;
  readonly newId: () => string;
}

export interface Upload {
  /** Known before the content (gRPC), or only once it has been read (multipart). */
  readonly filename: () => string;
  /** Known before the content (gRPC), or only after it (a multipart form may send it last). */
  readonly purpose: () => string | undefined;
  readonly content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

const bad = (message: string) => new DomainError('INVALID_ARGUMENT', message);

/** A page size from a caller: 1..100, default 20. */
export function pageLimit(value: unknown): number {
  if (value === undefined || value === null || value === '' || value === 0) return 20;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw bad('"limit" must be an integer from 1 to 100');
  return n;
}

/**
 * The Files and Batches operations, once, for both edges (HTTP and gRPC). Every read is
 * scoped to the caller's tenant: another tenant's file or batch is reported as absent.
 */
export function createBatchApi(deps: BatchApiDeps) {
  const { files, store } = deps;

  // An id of another shape names nothing: it is not found without a query (Postgres would
  // refuse a NUL in it as a server error), and is not repeated back.
  const noFile = (id: string) =>
    new DomainError(
      'NOT_FOUND',
      FILE_ID.test(id) ? `no file ${id} for this API key` : 'no such file for this API key: file ids look like "file-" and letters or digits',
    );
  const noBatch = (id: string) =>
    new DomainError(
      'NOT_FOUND',
      BATCH_ID.test(id) ? `no batch ${id} for this API key` : 'no such batch for this API key: batch ids look like "batch_" and letters or digits',
    );
  const ownFile = async (principal: Principal, id: string): Promise<FileRecord> => {
    const file = FILE_ID.test(id) ? await files.get(principal.tenant, id) : undefined;
    if (!file) throw noFile(id);
    return file;
  };
  const ownBatch = async (principal: Principal, id: string): Promise<BatchRecord> => {
    const batch = BATCH_ID.test(id) ? await store.get(principal.tenant, id) : undefined;
    if (!batch) throw noBatch(id);
    return batch;
  };
  /** A page cursor: the id of an item of an earlier page. */
  const cursor = (after: string | undefined, shape: RegExp, what: string) => {
    if (after !== undefined && after !== '' && !shape.test(after)) throw bad(`"after" must be the id of a ${what} from an earlier page`);
    return after || undefined;
  };

  return {
    /**
     * Stores an upload while checking it, in one transaction: a refused upload leaves nothing.
     * The content streams through; only one line is held at a time.
     */
    async uploadFile(principal: Principal, upload: Upload): Promise<FileRecord> {
      const { maxFileBytes, maxLines, maxLineBytes } = deps.uploadLimits;
      const id = `file-${deps.newId()}`;
      return files.create({ id, tenant: principal.tenant, purpose: 'batch', filename: 'upload.jsonl', createdMs: deps.now() }, async (writer) => {
        const split = createLineSplitter({ maxLineBytes });
        let bytes = 0;
        let lines = 0;
        let jsonLines = 0;
        const count = (got: { text: string }[]) => {
          for (const line of got) {
            if (!line.text.trim()) continue;
            if (++lines > maxLines) throw bad(`the file has more than ${maxLines} request lines, the limit per batch; split it into several batches`);
            if (line.text.trimStart().startsWith('{')) jsonLines++;
            writer.countLine();
          }
        };
        const refusalOf = (e: unknown) => {
          if (e instanceof LineTooLongError) return bad(`line ${e.line} is longer than ${e.limit} bytes, the limit per line`);
          if (e instanceof TypeError) return bad('the file is not UTF-8 text: upload JSONL, one JSON request per line');
          return e;
        };
        let refusal: unknown;
        for await (const chunk of upload.content) {
          // After a refusal the rest of the upload is read and dropped: a sender still sending
          // would otherwise never hear it (the multipart reader waits for the body to end).
          // The reader stops a file at the size limit, so this is bounded.
          if (refusal !== undefined) continue;
          try {
            bytes += chunk.length;
            if (bytes > maxFileBytes) throw bad(`the file is larger than ${maxFileBytes} bytes, the limit per upload`);
            if (chunk.includes(0)) throw bad('the file is not JSONL text (it holds NUL bytes): upload one JSON request per line');
            count(split.push(chunk));
            await writer.write(chunk);
          } catch (e) {
            refusal = refusalOf(e);
          }
        }
        if (refusal !== undefined) throw refusal;
        try {
          count(split.end());
        } catch (e) {
          throw refusalOf(e);
        }
        const purpose = upload.purpose();
        if (purpose !== 'batch') throw bad(`"purpose" must be "batch", got ${JSON.stringify(purpose ?? null)}: files here feed the Batch API`);
        if (!lines) throw bad('the file is empty: upload JSONL, one JSON request per line');
        if (!jsonLines) throw bad('the file is not JSONL: none of its lines is a JSON object; upload one JSON request per line');
        const filename = upload.filename();
        // Postgres text holds no NUL character: refused here, not failed on update.
        if (filename.includes('\0')) throw bad('the file name must not contain NUL characters');
        return { filename };
      });
    },

    getFile: ownFile,

    listFiles: (principal: Principal, page: { after?: string; limit: number; purpose?: string }) => {
      if (page.purpose !== undefined && !/^[a-z_-]{0,32}$/.test(page.purpose)) throw bad('"purpose" must be a purpose such as "batch" or "batch_output"');
      return files.list(principal.tenant, { ...page, after: cursor(page.after, FILE_ID, 'file') });
    },

    async fileContent(principal: Principal, id: string): Promise<AsyncIterable<Uint8Array>> {
      await ownFile(principal, id);
      return files.read(id);
    },

    async deleteFile(principal: Principal, id: string): Promise<void> {
      if (!FILE_ID.test(id) || !(await files.delete(principal.tenant, id))) throw noFile(id);
    },

    async createBatch(principal: Principal, input: BatchParamsInput): Promise<BatchRecord> {
      if (principal.tiers.length && !principal.tiers.includes('batch')) {
        throw new DomainError(
          'PERMISSION_DENIED',
          `this API key may use tiers ${principal.tiers.join(', ')}, not batch; ask an operator for a key with the batch tier`,
        );
      }
      const params = batchParams(input);
      const file = await files.get(principal.tenant, params.inputFileId);
      if (!file) throw new DomainError('NOT_FOUND', `no file ${params.inputFileId} for this API key; upload it with POST /v1/files, purpose "batch"`);
      if (file.purpose !== 'batch') throw bad(`file ${file.id} has purpose "${file.purpose}"; a batch reads files uploaded with purpose "batch"`);
      const createdMs = deps.now();
      const batch: BatchRecord = {
        id: `batch_${deps.newId()}`,
        tenant: principal.tenant,
        endpoint: params.endpoint,
        inputFileId: file.id,
        completionWindow: params.completionWindow,
        status: 'validating',
        stopReason: null,
        outputFileId: null,
        errorFileId: null,
        total: 0,
        completed: 0,
        failed: 0,
        metadata: params.metadata,
        errors: [],
        createdMs,
        expiresMs: createdMs + deps.completionWindowMs,
        inProgressMs: null,
        finalizingMs: null,
        cancellingMs: null,
        endedMs: null,
      };
      await store.insert({ ...batch, feature: principal.feature });
      await deps.queues.expireAfter(batch.id, deps.completionWindowMs);
      await deps.queues.validate(batch.id);
      return batch;
    },

    getBatch: ownBatch,

    async listBatches(principal: Principal, page: { after?: string; limit: number }): Promise<{ batches: BatchRecord[]; hasMore: boolean }> {
      const rows = await store.list(principal.tenant, { after: cursor(page.after, BATCH_ID, 'batch'), limit: page.limit + 1 });
      return { batches: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
    },

    /** Stops a batch: lines not started yet end as `batch_cancelled`; what finished is kept (and billed). */
    async cancelBatch(principal: Principal, id: string): Promise<BatchRecord> {
      const cancelled = BATCH_ID.test(id) ? await store.cancel(principal.tenant, id, deps.now()) : undefined;
      if (cancelled) {
        await deps.queues.wake(id);
        return cancelled;
      }
      const batch = await ownBatch(principal, id);
      throw new DomainError('FAILED_PRECONDITION', `batch ${id} has already ended (${batch.status}); only a validating or running batch can be cancelled`);
    },

    /** The result lines of an ended batch: the output file, then the error file. */
    async *results(principal: Principal, id: string): AsyncIterable<{ line: string; error: boolean }> {
      const batch = await ownBatch(principal, id);
      for (const [fileId, error] of [
        [batch.outputFileId, false],
        [batch.errorFileId, true],
      ] as const) {
        if (!fileId) continue;
        const split = createLineSplitter({ maxLineBytes: Number.MAX_SAFE_INTEGER });
        for await (const part of files.read(fileId)) for (const l of split.push(part)) yield { line: l.text, error };
        for (const l of split.end()) yield { line: l.text, error };
      }
    },
  };
}

export type BatchApi = ReturnType<typeof createBatchApi>;

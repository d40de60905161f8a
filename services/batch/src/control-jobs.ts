import type { Logger } from '@switchyard/telemetry';
import type { Sql, TransactionSql } from 'postgres';
import type { BatchStore, NewItem } from './batch-store.js';
import { parseBatchLine, type BatchInputLimits } from './domain/batch-input.js';
import { endStatus, isEnded, type BatchFileError } from './domain/batch-record.js';
import { createLineSplitter } from './domain/jsonl-lines.js';
import { resultLine } from './domain/result-lines.js';
import type { FileStore } from './file-store.js';
import type { Queues } from './queues.js';

export interface ControlJobDeps {
  readonly sql: Sql;
  readonly store: BatchStore;
  readonly files: FileStore;
  readonly queues: Queues;
  readonly limits: BatchInputLimits & { readonly maxLineBytes: number };
  readonly now: () => number;
  readonly logger: Logger;
}

/** Lines stored per transaction while validating, and jobs added per call while fanning out. */
const CHUNK = 1_000;
/** Line errors a batch that failed validation lists (OpenAI lists a sample, not all). */
const MAX_LISTED_ERRORS = 100;

/** Output and error files of a batch have ids derived from it, so writing them again replaces them. */
export const resultFileIds = (batchId: string) => {
  const hex = batchId.replace(/^batch_/, '');
  return { output: `file-${hex}out`, error: `file-${hex}err` };
};

/**
 * Validation, fan-out, expiry and finalisation of a batch: each safe to run again after a
 * crash at any point (stored lines are skipped, jobs keep their ids, files are rewritten whole).
 */
export function createControlJobs(deps: ControlJobDeps) {
  const { store, files, queues, logger } = deps;

  /** Reads the input file once, in bounded memory, storing each line checked. */
  async function storeLines(batchId: string, inputFileId: string, endpoint: Parameters<typeof parseBatchLine>[1]): Promise<void> {
    const resumeAfter = await store.lastStoredLine(batchId);
    const split = createLineSplitter({ maxLineBytes: deps.limits.maxLineBytes });
    let chunk: NewItem[] = [];
    const take = async (lines: ReturnType<typeof split.push>) => {
      for (const line of lines) {
        if (line.number <= resumeAfter || !line.text.trim()) continue;
        const parsed = parseBatchLine(line.text, endpoint, deps.limits);
        chunk.push(
          parsed.ok
            ? { line: line.number, customId: parsed.customId, body: parsed.body }
            : {
                line: line.number,
                customId: parsed.customId,
                body: null,
                outcome: { line: line.number, customId: parsed.customId, error: { code: parsed.code, message: parsed.message } },
              },
        );
        if (chunk.length >= CHUNK) {
          await store.insertItems(batchId, chunk);
          chunk = [];
        }
      }
    };
    for await (const part of files.read(inputFileId)) await take(split.push(part));
    await take(split.end());
    await store.insertItems(batchId, chunk);
  }

  async function fanOut(batchId: string): Promise<void> {
    let after = 0;
    for (;;) {
      const lines = await store.pendingLines(batchId, after, CHUNK);
      if (!lines.length) break;
      await queues.addRequests(batchId, lines);
      after = lines[lines.length - 1]!;
    }
  }

  /** A batch stopped: its lines waiting for a window or a retry run now, and settle as stopped. */
  async function wake(batchId: string): Promise<void> {
    let after = 0;
    for (;;) {
      const lines = await store.pendingLines(batchId, after, CHUNK);
      if (!lines.length) return;
      await queues.promoteLines(batchId, lines);
      after = lines[lines.length - 1]!;
    }
  }

  return {
    async validate(batchId: string): Promise<void> {
      const batch = await store.getById(batchId);
      if (!batch || isEnded(batch.status)) return;
      if (batch.inProgressMs === null) {
        await storeLines(batchId, batch.inputFileId, batch.endpoint);
        const running = await store.startRunning(batchId, deps.now());
        if (running.total === running.failed) {
          const errors: BatchFileError[] = running.total
            ? (await store.lineErrors(batchId, MAX_LISTED_ERRORS)).map((o) => ({
                code: o.error?.code ?? 'invalid_request',
                message: o.error?.message ?? '',
                line: o.line,
              }))
            : [{ code: 'empty_file', message: 'the input file holds no request lines' }];
          await store.failValidation(batchId, errors, deps.now());
          logger.info({ batchId, lines: running.total }, 'batch failed validation: no line can run');
          return;
        }
        logger.info({ batchId, lines: running.total, invalid: running.failed }, 'batch validated');
      }
      await fanOut(batchId);
      // Every line may have settled already (a validation run again after the fan-out).
      const now = await store.getById(batchId);
      if (now && now.status !== 'validating' && now.completed + now.failed >= now.total) await queues.finalize(batchId);
    },

    /**
     * Adds the jobs a running batch needs again (after a crash, jobs that gave up, or a Redis
     * that lost its data): its expiry, its validation or its pending lines, and its
     * finalisation once every line settled. A no-op for jobs that are still there.
     */
    async sweep(batchId: string): Promise<void> {
      const batch = await store.getById(batchId);
      if (!batch || isEnded(batch.status)) return;
      if (batch.stopReason === null) await queues.expireAfter(batchId, batch.expiresMs - deps.now());
      if (batch.inProgressMs === null) {
        await queues.validate(batchId);
        return;
      }
      await fanOut(batchId);
      if (batch.completed + batch.failed >= batch.total) await queues.finalize(batchId);
    },

    async expire(batchId: string): Promise<void> {
      await store.expire(batchId);
      await wake(batchId);
    },

    wake,

    /** Writes the output and error files from the settled lines and ends the batch, in one transaction. */
    async finalize(batchId: string): Promise<void> {
      const batch = await store.beginFinalizing(batchId, deps.now());
      if (!batch) return;
      if (batch.completed + batch.failed < batch.total) return;
      const ids = resultFileIds(batchId);
      const writeResults = async (tx: TransactionSql, id: string, succeeded: boolean) => {
        const file = await files.writeIn(
          tx,
          { id, tenant: batch.tenant, purpose: 'batch_output', filename: `${batchId}_${succeeded ? 'output' : 'error'}.jsonl`, createdMs: deps.now() },
          async (w) => {
            for await (const outcomes of store.outcomes(tx, batchId, succeeded)) {
              for (const outcome of outcomes) {
                await w.write(Buffer.from(`${resultLine(batchId, outcome)}\n`));
                w.countLine();
              }
            }
          },
        );
        if (file.lines) return id;
        await tx`DELETE FROM batch_files WHERE id = ${id}`;
        return null;
      };
      await deps.sql.begin(async (tx) => {
        const outputFileId = await writeResults(tx, ids.output, true);
        const errorFileId = await writeResults(tx, ids.error, false);
        await store.finish(tx, batchId, { status: endStatus(batch.stopReason), outputFileId, errorFileId, nowMs: deps.now() });
      });
      logger.info({ batchId, completed: batch.completed, failed: batch.failed, status: endStatus(batch.stopReason) }, 'batch finished');
    },
  };
}

export type ControlJobs = ReturnType<typeof createControlJobs>;

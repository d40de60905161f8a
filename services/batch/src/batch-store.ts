import type { Sql, TransactionSql } from 'postgres';
import type { BatchEndpoint } from './domain/batch-input.js';
import type { BatchFileError, BatchRecord, BatchStatus, StopReason } from './domain/batch-record.js';
import type { ItemOutcome } from './domain/result-lines.js';

/** A line of a batch as the request worker needs it, with its batch's state. */
export interface ItemWork {
  readonly batchId: string;
  readonly line: number;
  readonly state: 'pending' | 'succeeded' | 'failed';
  readonly customId: string | null;
  readonly body: string | null;
  readonly tenant: string;
  readonly feature: string;
  readonly endpoint: BatchEndpoint;
  readonly stopReason: StopReason;
  readonly expiresMs: number;
}

/** A line read from the input file, checked: a request to run, or an outcome already known. */
export interface NewItem {
  readonly line: number;
  readonly customId: string | null;
  /** Null for a line that cannot run; `outcome` says why. */
  readonly body: string | null;
  readonly outcome?: ItemOutcome;
}

export interface Settled {
  /** Every line of the batch has settled: time to write its files. */
  readonly allSettled: boolean;
}

const ACTIVE: readonly BatchStatus[] = ['validating', 'in_progress', 'cancelling'];

/**
 * Batches and their lines in Postgres. Each line settles exactly once (pending -> succeeded
 * or failed) in the same statement that moves the batch's counts, so a job that runs twice
 * (a worker killed after the work, before its ack) changes nothing the second time.
 */
export function createBatchStore(sql: Sql) {
  return {
    async insert(b: BatchRecord & { feature: string }): Promise<void> {
      await sql`INSERT INTO batches (id, tenant, feature, endpoint, input_file_id, completion_window, status, metadata, created_ms, expires_ms)
        VALUES (${b.id}, ${b.tenant}, ${b.feature}, ${b.endpoint}, ${b.inputFileId}, ${b.completionWindow}, ${b.status},
                ${sql.json(b.metadata as Record<string, string>)}, ${b.createdMs}, ${b.expiresMs})`;
    },

    async get(tenant: string, id: string): Promise<BatchRecord | undefined> {
      const [row] = await sql<BatchRow[]>`SELECT * FROM batches WHERE id = ${id} AND tenant = ${tenant}`;
      return row && batchOf(row);
    },

    async getById(id: string): Promise<BatchRecord | undefined> {
      const [row] = await sql<BatchRow[]>`SELECT * FROM batches WHERE id = ${id}`;
      return row && batchOf(row);
    },

    async list(tenant: string, page: { after?: string; limit: number }): Promise<BatchRecord[]> {
      const after = page.after ? await sql<{ created_ms: string }[]>`SELECT created_ms FROM batches WHERE id = ${page.after} AND tenant = ${tenant}` : [];
      const rows = await sql<BatchRow[]>`
        SELECT * FROM batches WHERE tenant = ${tenant}
          ${after[0] ? sql`AND (created_ms, id) < (${after[0].created_ms}, ${page.after!})` : sql``}
        ORDER BY created_ms DESC, id DESC LIMIT ${page.limit}`;
      return rows.map(batchOf);
    },

    /** Asks a running batch to stop; undefined when it is not the tenant's or has ended already. */
    async cancel(tenant: string, id: string, nowMs: number): Promise<BatchRecord | undefined> {
      const [row] = await sql<BatchRow[]>`
        UPDATE batches SET stop_reason = coalesce(stop_reason, 'cancelled'), status = 'cancelling', cancelling_ms = coalesce(cancelling_ms, ${nowMs})
        WHERE id = ${id} AND tenant = ${tenant} AND status IN ('validating', 'in_progress', 'cancelling') RETURNING *`;
      return row && batchOf(row);
    },

    /** The completion window ran out: no further line starts. */
    async expire(id: string): Promise<void> {
      await sql`UPDATE batches SET stop_reason = coalesce(stop_reason, 'expired') WHERE id = ${id} AND status IN ${sql(ACTIVE)}`;
    },

    /** Why each of these batches stops, for the lines waiting to start. */
    async stopReasons(ids: readonly string[]): Promise<Map<string, StopReason>> {
      const rows = await sql<{ id: string; stop_reason: StopReason }[]>`SELECT id, stop_reason FROM batches WHERE id IN ${sql(ids as string[])}`;
      return new Map(rows.map((r) => [r.id, r.stop_reason]));
    },

    /** The last input line already stored: validation resumes after it. */
    async lastStoredLine(batchId: string): Promise<number> {
      const [row] = await sql<{ line: number | null }[]>`SELECT max(line) AS line FROM batch_items WHERE batch_id = ${batchId}`;
      return row?.line ?? 0;
    },

    /**
     * Stores checked lines in one transaction. A runnable line whose custom_id an earlier line
     * holds becomes an error line naming that repeat.
     */
    async insertItems(batchId: string, items: readonly NewItem[]): Promise<void> {
      if (!items.length) return;
      await sql.begin(async (tx) => {
        const runnable = items.filter((i) => i.body !== null);
        const stored = new Set<number>();
        if (runnable.length) {
          const rows = await tx<{ line: number }[]>`
            INSERT INTO batch_items ${tx(runnable.map((i) => ({ batch_id: batchId, line: i.line, custom_id: i.customId, body: i.body, state: 'pending' })))}
            ON CONFLICT DO NOTHING RETURNING line`;
          rows.forEach((r) => stored.add(r.line));
        }
        const errors = items
          .filter((i) => !stored.has(i.line))
          .map((i) => ({
            batch_id: batchId,
            line: i.line,
            custom_id: i.customId,
            body: null,
            state: 'failed',
            outcome: tx.json(
              (i.outcome ?? {
                line: i.line,
                customId: i.customId,
                error: { code: 'duplicate_custom_id', message: `custom_id ${JSON.stringify(i.customId)} is used by an earlier line; each line needs its own` },
              }) as never,
            ),
          }));
        if (errors.length) await tx`INSERT INTO batch_items ${tx(errors)} ON CONFLICT DO NOTHING`;
      });
    },

    /**
     * Validation done: the batch runs (unless asked to stop meanwhile) over its stored lines.
     * Counts are taken once, before any line can settle; a validation that runs again after a
     * crash finds them taken and leaves them to the lines settling meanwhile.
     */
    async startRunning(batchId: string, nowMs: number): Promise<BatchRecord> {
      const [row] = await sql<BatchRow[]>`
        UPDATE batches SET
          total = (SELECT count(*) FROM batch_items WHERE batch_id = ${batchId}),
          failed = (SELECT count(*) FROM batch_items WHERE batch_id = ${batchId} AND state = 'failed'),
          status = CASE WHEN status = 'validating' THEN 'in_progress' ELSE status END,
          in_progress_ms = ${nowMs}
        WHERE id = ${batchId} AND in_progress_ms IS NULL RETURNING *`;
      if (row) return batchOf(row);
      const [current] = await sql<BatchRow[]>`SELECT * FROM batches WHERE id = ${batchId}`;
      return batchOf(current!);
    },

    /** A batch whose file could not be used at all ends here. */
    async failValidation(batchId: string, errors: readonly BatchFileError[], nowMs: number): Promise<void> {
      await sql`UPDATE batches SET status = 'failed', errors = ${sql.json(errors as never)}, ended_ms = ${nowMs} WHERE id = ${batchId} AND status IN ${sql(ACTIVE)}`;
    },

    /** Outcomes of the first lines that cannot run, for a batch that failed validation. */
    async lineErrors(batchId: string, limit: number): Promise<ItemOutcome[]> {
      const rows = await sql<{ outcome: ItemOutcome }[]>`
        SELECT outcome FROM batch_items WHERE batch_id = ${batchId} AND state = 'failed' ORDER BY line LIMIT ${limit}`;
      return rows.map((r) => r.outcome);
    },

    /** Lines still to run, in order, after `afterLine`. */
    async pendingLines(batchId: string, afterLine: number, limit: number): Promise<number[]> {
      const rows = await sql<{ line: number }[]>`
        SELECT line FROM batch_items WHERE batch_id = ${batchId} AND state = 'pending' AND line > ${afterLine} ORDER BY line LIMIT ${limit}`;
      return rows.map((r) => r.line);
    },

    async item(batchId: string, line: number): Promise<ItemWork | undefined> {
      const [row] = await sql<ItemRow[]>`
        SELECT i.line, i.state, i.custom_id, i.body, b.tenant, b.feature, b.endpoint, b.stop_reason, b.expires_ms
        FROM batch_items i JOIN batches b ON b.id = i.batch_id WHERE i.batch_id = ${batchId} AND i.line = ${line}`;
      return (
        row && {
          batchId,
          line: row.line,
          state: row.state,
          customId: row.custom_id,
          body: row.body,
          tenant: row.tenant,
          feature: row.feature,
          endpoint: row.endpoint,
          stopReason: row.stop_reason,
          expiresMs: Number(row.expires_ms),
        }
      );
    },

    /** Settles one line, once; says whether that was the batch's last. */
    async settle(batchId: string, outcome: ItemOutcome, succeeded: boolean): Promise<Settled> {
      const state = succeeded ? 'succeeded' : 'failed';
      return (await sql.begin(async (tx) => {
        const changed = await tx`
          UPDATE batch_items SET state = ${state}, outcome = ${tx.json(outcome as never)}
          WHERE batch_id = ${batchId} AND line = ${outcome.line} AND state = 'pending' RETURNING line`;
        const [b] = await tx<{ total: number; completed: number; failed: number; status: BatchStatus }[]>`
          UPDATE batches SET completed = completed + ${changed.length && succeeded ? 1 : 0}, failed = failed + ${changed.length && !succeeded ? 1 : 0}
          WHERE id = ${batchId} RETURNING total, completed, failed, status`;
        return { allSettled: !!b && b.status !== 'validating' && b.completed + b.failed >= b.total };
      })) as Settled;
    },

    /** Marks the batch as writing its files; returns it, or undefined when it has ended already. */
    async beginFinalizing(batchId: string, nowMs: number): Promise<BatchRecord | undefined> {
      const [row] = await sql<BatchRow[]>`
        UPDATE batches SET finalizing_ms = coalesce(finalizing_ms, ${nowMs}),
          status = CASE WHEN status = 'in_progress' THEN 'finalizing' ELSE status END
        WHERE id = ${batchId} AND status IN ('in_progress', 'finalizing', 'cancelling') RETURNING *`;
      return row && batchOf(row);
    },

    /**
     * Outcomes of settled lines, in line order, a page at a time (for writing the files). Pages
     * by line rather than through a cursor: the caller writes on the same transaction between
     * pages, and a connection with an open cursor takes no other statement.
     */
    async *outcomes(tx: TransactionSql, batchId: string, succeeded: boolean): AsyncIterable<ItemOutcome[]> {
      for (let after = 0; ;) {
        const rows = await tx<{ line: number; outcome: ItemOutcome }[]>`
          SELECT line, outcome FROM batch_items WHERE batch_id = ${batchId} AND state = ${succeeded ? 'succeeded' : 'failed'} AND line > ${after}
          ORDER BY line LIMIT 1000`;
        if (!rows.length) return;
        yield rows.map((r) => r.outcome);
        after = rows[rows.length - 1]!.line;
      }
    },

    async finish(tx: TransactionSql, batchId: string, end: { status: BatchStatus; outputFileId: string | null; errorFileId: string | null; nowMs: number }) {
      await tx`UPDATE batches SET status = ${end.status}, output_file_id = ${end.outputFileId}, error_file_id = ${end.errorFileId}, ended_ms = ${end.nowMs}
               WHERE id = ${batchId}`;
    },

    /** Batches with lines still to run, for a worker that starts (after a crash, jobs may be missing). */
    async running(): Promise<string[]> {
      const rows = await sql<{ id: string }[]>`SELECT id FROM batches WHERE status IN ${sql(ACTIVE)}`;
      return rows.map((r) => r.id);
    },
  };
}

export type BatchStore = ReturnType<typeof createBatchStore>;

interface BatchRow {
  id: string;
  tenant: string;
  feature: string;
  endpoint: BatchEndpoint;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  stop_reason: StopReason;
  output_file_id: string | null;
  error_file_id: string | null;
  total: number;
  completed: number;
  failed: number;
  metadata: Record<string, string>;
  errors: BatchFileError[];
  created_ms: string;
  expires_ms: string;
  in_progress_ms: string | null;
  finalizing_ms: string | null;
  cancelling_ms: string | null;
  ended_ms: string | null;
}

interface ItemRow {
  line: number;
  state: ItemWork['state'];
  custom_id: string | null;
  body: string | null;
  tenant: string;
  feature: string;
  endpoint: BatchEndpoint;
  stop_reason: StopReason;
  expires_ms: string;
}

const ms = (v: string | null) => (v === null ? null : Number(v));

const batchOf = (r: BatchRow): BatchRecord => ({
  id: r.id,
  tenant: r.tenant,
  endpoint: r.endpoint,
  inputFileId: r.input_file_id,
  completionWindow: r.completion_window,
  status: r.status,
  stopReason: r.stop_reason,
  outputFileId: r.output_file_id,
  errorFileId: r.error_file_id,
  total: r.total,
  completed: r.completed,
  failed: r.failed,
  metadata: r.metadata,
  errors: r.errors,
  createdMs: Number(r.created_ms),
  expiresMs: Number(r.expires_ms),
  inProgressMs: ms(r.in_progress_ms),
  finalizingMs: ms(r.finalizing_ms),
  cancellingMs: ms(r.cancelling_ms),
  endedMs: ms(r.ended_ms),
});

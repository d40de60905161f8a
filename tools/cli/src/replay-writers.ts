import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import type { Column, ColumnType, Row } from './domain/replay-columns.js';

export const REPLAY_FORMATS = ['ndjson', 'csv', 'parquet'] as const;
export type ReplayFormat = (typeof REPLAY_FORMATS)[number];

/** Takes rows one at a time; `close` writes what is left and ends the file. */
export interface RowWriter {
  write(row: Row): void | Promise<void>;
  close(): Promise<void>;
}

/**
 * Rows per Parquet row group (default). Memory holds at most one group's column arrays. 20,000
 * rows die young in V8 more often than 50,000 (fewer survive to the old generation), which kept
 * the export at ~65,000 events/s inside a 96 MB heap where 50,000-row groups managed ~49,000.
 */
export const DEFAULT_ROW_GROUP_ROWS = 20_000;

const TEXT_FLUSH_CHARS = 256 * 1024;

/** Text output gathered into ~256 KB writes, waiting for the stream to drain so memory stays flat. */
function textSink(out: WriteStream | NodeJS.WriteStream) {
  let pending = '';
  // A write error (a full disk, a reader of stdout gone) surfaces at the next write, as a throw.
  let failure: Error | undefined;
  out.on('error', (e) => (failure ??= e));
  const flush = async () => {
    if (failure) throw failure;
    if (!pending) return;
    const chunk = pending;
    pending = '';
    // `once` rejects when the stream errors instead of draining.
    if (!out.write(chunk)) await once(out, 'drain');
  };
  return {
    add: (text: string) => {
      pending += text;
      return pending.length >= TEXT_FLUSH_CHARS ? flush() : undefined;
    },
    async end() {
      await flush();
      // stdout is never ended: it belongs to the process.
      if (out !== process.stdout) await new Promise<void>((resolve, reject) => (out as WriteStream).end((e?: Error | null) => (e ? reject(e) : resolve())));
    },
  };
}

/** Opens (creates or truncates) the output now, so a bad path fails before anything is read. */
function openOut(file: string): number {
  try {
    return openSync(file, 'w');
  } catch (e) {
    throw new Error(`cannot write --out ${file}: ${(e as Error).message}`, { cause: e });
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function jsonValue(type: ColumnType, v: Row[number]) {
  return type === 'TIMESTAMP' && typeof v === 'number' ? iso(v) : v;
}

function ndjsonWriter(columns: readonly Column[], out: WriteStream | NodeJS.WriteStream): RowWriter {
  const sink = textSink(out);
  return {
    write(row) {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++) o[columns[i]!.name] = jsonValue(columns[i]!.type, row[i]!);
      return sink.add(`${JSON.stringify(o)}\n`);
    },
    close: () => sink.end(),
  };
}

const NEEDS_QUOTES = /[",\r\n]/;

/** RFC 4180: quoted only when needed; null is an empty field. */
function csvField(type: ColumnType, v: Row[number]): string {
  if (v === null) return '';
  const s = type === 'TIMESTAMP' && typeof v === 'number' ? iso(v) : String(v);
  return NEEDS_QUOTES.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function csvWriter(columns: readonly Column[], out: WriteStream | NodeJS.WriteStream): RowWriter {
  const sink = textSink(out);
  void sink.add(`${columns.map((c) => c.name).join(',')}\n`);
  return {
    write: (row) => sink.add(`${row.map((v, i) => csvField(columns[i]!.type, v)).join(',')}\n`),
    close: () => sink.end(),
  };
}

/** The Parquet schema element of a column; every column is OPTIONAL so a missing value is null. */
function schemaElement(c: Column) {
  const base = { name: c.name, repetition_type: 'OPTIONAL' as const };
  switch (c.type) {
    case 'TIMESTAMP':
      return { ...base, type: 'INT64' as const, converted_type: 'TIMESTAMP_MILLIS' as const };
    case 'STRING':
      return { ...base, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const };
    case 'INT32':
      return { ...base, type: 'INT32' as const };
    case 'INT64':
      return { ...base, type: 'INT64' as const };
    case 'DOUBLE':
      return { ...base, type: 'DOUBLE' as const };
    case 'BOOLEAN':
      return { ...base, type: 'BOOLEAN' as const };
  }
}

/**
 * Parquet written one row group at a time: rows gather in per-column arrays until
 * `rowGroupRows`, then the group is encoded and handed to hyparquet-writer's file writer,
 * which writes to disk every ~1 MB. Memory is bounded by one group's arrays and its encoded
 * pages (tens of MB at 20,000 rows) plus the footer's per-group metadata (a few KB a group),
 * whatever the length of the range.
 */
function parquetWriter(columns: readonly Column[], file: string, rowGroupRows: number): RowWriter {
  const writer = new ParquetWriter({
    writer: fileWriter(file),
    schema: [{ name: 'root', num_children: columns.length }, ...columns.map(schemaElement)],
    createdBy: 'switchyard replay',
  });
  let data: Row[number][][] = columns.map(() => []);
  let rows = 0;
  const flush = async () => {
    if (rows === 0) return;
    const columnData = columns.map((c, i) => ({
      name: c.name,
      // INT64 columns take bigint; numbers are converted here, once per group.
      data: c.type === 'INT64' || c.type === 'TIMESTAMP' ? data[i]!.map((v) => (v === null ? null : BigInt(v as number))) : data[i]!,
      // Min/max where a reader filters row groups by them (a time range, a tenant); computing
      // them for every column costs a tenth of an export's time.
      statistics: c.type === 'TIMESTAMP' || c.name === 'tenant',
    }));
    data = columns.map(() => []);
    rows = 0;
    await writer.write({ columnData: columnData as never, rowGroupSize: rowGroupRows });
  };
  return {
    write(row) {
      for (let i = 0; i < row.length; i++) data[i]!.push(row[i]!);
      rows++;
      return rows >= rowGroupRows ? flush() : undefined;
    },
    async close() {
      await flush();
      await writer.finish();
    },
  };
}

export interface RowWriterOptions {
  readonly format: ReplayFormat;
  readonly columns: readonly Column[];
  /** File to write; stdout when absent (not for Parquet). */
  readonly out?: string;
  /** Rows per Parquet row group. Default {@link DEFAULT_ROW_GROUP_ROWS}. */
  readonly rowGroupRows?: number;
}

export function createRowWriter(o: RowWriterOptions): RowWriter {
  if (o.format === 'parquet') {
    if (!o.out) throw new Error('--format parquet needs --out FILE (Parquet is binary and written in row groups)');
    closeSync(openOut(o.out));
    return parquetWriter(o.columns, o.out, o.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS);
  }
  const out = o.out ? createWriteStream(o.out, { fd: openOut(o.out) }) : process.stdout;
  return o.format === 'csv' ? csvWriter(o.columns, out) : ndjsonWriter(o.columns, out);
}

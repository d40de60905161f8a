import type { Sql, TransactionSql } from 'postgres';

/** A stored file, as the Files API shows it. */
export interface FileRecord {
  readonly id: string;
  readonly tenant: string;
  /** `batch` for uploads, `batch_output` for files a batch wrote. */
  readonly purpose: string;
  readonly filename: string;
  readonly bytes: number;
  readonly lines: number;
  readonly createdMs: number;
}

export type NewFile = Omit<FileRecord, 'bytes' | 'lines'>;

/** Appends bytes to a file being written; parts are flushed as they fill. */
export interface FileWriter {
  write(bytes: Uint8Array): Promise<void>;
  /** Counts a line for the file's record (the writer does not parse). */
  countLine(): void;
}

/** What a fill learnt only while reading the content. */
export interface FileFill {
  /** The file's name, when it came with the content (a multipart part). */
  readonly filename?: string;
}

/** Bytes per stored part: large enough to keep the row count low, small enough to stream. */
const PART_BYTES = 1024 * 1024;

type Db = Sql | TransactionSql;

/**
 * File contents in Postgres, in parts of about 1 MiB: a file is written inside one
 * transaction (all of it or nothing) and read back part by part, so neither an upload nor a
 * download ever holds a whole file. Deleting a file deletes its parts.
 */
export function createFileStore(sql: Sql) {
  /** Writes a file within `tx`; `fill` streams its content into the writer. Replaces a file of the same id. */
  async function writeIn(tx: Db, file: NewFile, fill: (writer: FileWriter) => Promise<FileFill | void>): Promise<FileRecord> {
    await tx`DELETE FROM batch_files WHERE id = ${file.id}`;
    await tx`INSERT INTO batch_files (id, tenant, purpose, filename, bytes, lines, created_ms)
             VALUES (${file.id}, ${file.tenant}, ${file.purpose}, ${file.filename}, 0, 0, ${file.createdMs})`;
    let part = 0;
    let bytes = 0;
    let lines = 0;
    let buffered: Uint8Array[] = [];
    let bufferedBytes = 0;
    const flush = async () => {
      if (!bufferedBytes) return;
      const data = Buffer.concat(buffered, bufferedBytes);
      buffered = [];
      bufferedBytes = 0;
      await tx`INSERT INTO batch_file_parts (file_id, part, data) VALUES (${file.id}, ${part++}, ${data})`;
    };
    const filled = await fill({
      async write(chunk) {
        buffered.push(chunk);
        bufferedBytes += chunk.length;
        bytes += chunk.length;
        if (bufferedBytes >= PART_BYTES) await flush();
      },
      countLine: () => void lines++,
    });
    await flush();
    const filename = filled?.filename || file.filename;
    await tx`UPDATE batch_files SET bytes = ${bytes}, lines = ${lines}, filename = ${filename} WHERE id = ${file.id}`;
    return { ...file, filename, bytes, lines };
  }

  return {
    writeIn,
    /** Writes a whole file in its own transaction. */
    create: (file: NewFile, fill: (writer: FileWriter) => Promise<FileFill | void>): Promise<FileRecord> =>
      sql.begin((tx) => writeIn(tx, file, fill)) as Promise<FileRecord>,

    async get(tenant: string, id: string): Promise<FileRecord | undefined> {
      const [row] = await sql<FileRow[]>`SELECT * FROM batch_files WHERE id = ${id} AND tenant = ${tenant}`;
      return row && fileOf(row);
    },

    /** The tenant's files, newest first, after the file `after` (cursor). */
    async list(tenant: string, page: { after?: string; limit: number; purpose?: string }): Promise<FileRecord[]> {
      const after = page.after ? await sql<{ created_ms: string }[]>`SELECT created_ms FROM batch_files WHERE id = ${page.after} AND tenant = ${tenant}` : [];
      const rows = await sql<FileRow[]>`
        SELECT * FROM batch_files WHERE tenant = ${tenant}
          ${page.purpose ? sql`AND purpose = ${page.purpose}` : sql``}
          ${after[0] ? sql`AND (created_ms, id) < (${after[0].created_ms}, ${page.after!})` : sql``}
        ORDER BY created_ms DESC, id DESC LIMIT ${page.limit}`;
      return rows.map(fileOf);
    },

    /** The file's content, part by part, in order. */
    async *read(id: string): AsyncIterable<Uint8Array> {
      for (let part = 0; ; part++) {
        const [row] = await sql<{ data: Buffer }[]>`SELECT data FROM batch_file_parts WHERE file_id = ${id} AND part = ${part}`;
        if (!row) return;
        yield row.data;
      }
    },

    async delete(tenant: string, id: string): Promise<boolean> {
      const rows = await sql`DELETE FROM batch_files WHERE id = ${id} AND tenant = ${tenant} RETURNING id`;
      return rows.length > 0;
    },
  };
}

export type FileStore = ReturnType<typeof createFileStore>;

interface FileRow {
  id: string;
  tenant: string;
  purpose: string;
  filename: string;
  bytes: string;
  lines: number;
  created_ms: string;
}

const fileOf = (r: FileRow): FileRecord => ({
  id: r.id,
  tenant: r.tenant,
  purpose: r.purpose,
  filename: r.filename,
  bytes: Number(r.bytes),
  lines: r.lines,
  createdMs: Number(r.created_ms),
});

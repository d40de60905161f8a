import { createLogger } from '@switchyard/telemetry';
import { startPostgres, startRedis, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatchStore } from './batch-store.js';
import { createControlJobs, resultFileIds } from './control-jobs.js';
import { createFileStore } from './file-store.js';
import { migrate } from './migrate.js';
import { openQueues, type Queues } from './queues.js';

let pg: TestServer;
let redis: TestServer;
let sql: Sql;
let queues: Queues;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  await migrate(sql);
  const url = new URL(redis.url);
  queues = openQueues({ host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null });
}, 60_000);
afterAll(async () => {
  await queues?.close();
  await sql?.end();
  await Promise.all([pg?.dispose(), redis?.dispose()]);
});

describe('finalising a batch', () => {
  it('writes result files of several parts in one transaction, and writing them again gives the same files', async () => {
    const store = createBatchStore(sql);
    const files = createFileStore(sql);
    const control = createControlJobs({
      sql,
      store,
      files,
      queues,
      limits: { maxLineBytes: 1 << 20, maxBodyBytes: 1 << 20, maxCustomIdLength: 512 },
      now: Date.now,
      logger: createLogger({ service: 'batch', level: 'silent' }),
    });
    const batchId = 'batch_bigoutput';
    const base = { tenant: 'acme', endpoint: '/v1/chat/completions' as const, inputFileId: 'file-x', completionWindow: '24h', stopReason: null };
    await store.insert({
      ...base,
      id: batchId,
      feature: '',
      status: 'validating',
      outputFileId: null,
      errorFileId: null,
      total: 0,
      completed: 0,
      failed: 0,
      metadata: {},
      errors: [],
      createdMs: Date.now(),
      expiresMs: Date.now() + 3600_000,
      inProgressMs: null,
      finalizingMs: null,
      cancellingMs: null,
      endedMs: null,
    });
    // 3,000 answered lines of ~1 KB: about 3 MB of output, several 1 MiB parts.
    const lines = 3_000;
    await store.insertItems(
      batchId,
      Array.from({ length: lines }, (_, i) => ({ line: i + 1, customId: `c-${i}`, body: '{}' })),
    );
    await store.startRunning(batchId, Date.now());
    for (let i = 0; i < lines; i++) {
      await store.settle(
        batchId,
        { line: i + 1, customId: `c-${i}`, response: { statusCode: 200, requestId: `req_${i}`, body: { text: 'x'.repeat(1_000) } } },
        true,
      );
    }

    await control.finalize(batchId);
    const done = await store.getById(batchId);
    expect(done).toMatchObject({ status: 'completed', outputFileId: resultFileIds(batchId).output, errorFileId: null });
    const parts = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM batch_file_parts WHERE file_id = ${done!.outputFileId}`;
    expect(parts[0]!.n).toBeGreaterThan(2);
    const read = async () => {
      const chunks: Uint8Array[] = [];
      for await (const c of files.read(done!.outputFileId!)) chunks.push(c);
      return Buffer.concat(chunks).toString('utf8');
    };
    const text = await read();
    const ids = text
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
    expect(ids).toEqual(Array.from({ length: lines }, (_, i) => `c-${i}`));

    // A finalisation that runs again (its job repeated after a crash) leaves the same file.
    await sql`UPDATE batches SET status = 'finalizing', ended_ms = NULL WHERE id = ${batchId}`;
    await control.finalize(batchId);
    expect(await read()).toBe(text);
  }, 60_000);
});

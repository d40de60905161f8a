import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  BatchServiceClient,
  Tier,
  type CancelBatchResponse,
  type GetBatchResponse,
  type ListBatchesResponse,
  type SubmitBatchResponse,
  type UploadFileResponse,
} from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, priceUsage } from '@switchyard/pricing';
import { testPool, waitFor } from '@switchyard/testing';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchEnded, chatLine, readResultLines } from '../support/batch-files.js';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;
let openai: OpenAI;

beforeAll(async () => {
  system = await startSystem({
    pools: [testPool({ id: 'test-eu-h100-8b', workers: 2 })],
    inFlightPerTenant: { batch: 128 },
    batch: { uploadLimits: { maxFileBytes: 2_000_000, maxLines: 2_000, maxRequestBytes: 2_000 } },
  });
  openai = new OpenAI({ apiKey: system.apiKey, baseURL: system.httpUrl, maxRetries: 0 });
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

const upload = async (lines: string[], name = 'batch.jsonl') =>
  openai.files.create({ file: await toFile(Buffer.from(`${lines.join('\n')}\n`), name), purpose: 'batch' });

interface LedgerRow {
  request_id: string;
  model: string;
  tier: string;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  amount_micros: string;
}

/** Usage transactions the ledger posted for these requests, once billing caught up. */
const billedFor = async (requestIds: string[]) =>
  waitFor(
    `the ledger bills ${requestIds.length} requests`,
    async () => {
      const rows = await system.sql<LedgerRow[]>`
        SELECT request_id, model, tier, input_tokens, cached_input_tokens, output_tokens, amount_micros
        FROM ledger_transactions WHERE kind = 'usage' AND request_id IN ${system.sql(requestIds)}`;
      return rows.length >= requestIds.length ? rows : undefined;
    },
    60_000,
  );

describe('the Batch API through the official OpenAI SDK', () => {
  it('runs a 1,000-line batch: one result per custom_id, each request billed once at the batch price', async () => {
    const lines = Array.from({ length: 1_000 }, (_, i) => chatLine(`req-${i}`, `question ${i}`));
    const file = await upload(lines);
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'batch.jsonl', bytes: Buffer.byteLength(`${lines.join('\n')}\n`) });
    const created = await openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { job: 'nightly' },
    });
    expect(created).toMatchObject({ object: 'batch', status: 'validating', metadata: { job: 'nightly' } });

    const batch = await batchEnded(openai, created.id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 1_000, completed: 1_000, failed: 0 }, error_file_id: null });
    const results = await readResultLines(openai, batch.output_file_id);
    expect(results).toHaveLength(1_000);
    expect(new Set(results.map((r) => r.custom_id)).size).toBe(1_000);
    expect(results.every((r) => r.response?.status_code === 200 && r.error === null)).toBe(true);
    const first = results.find((r) => r.custom_id === 'req-0')!;
    expect((first.response!.body as { choices: { message: { content: string } }[] }).choices[0]!.message.content.length).toBeGreaterThan(0);

    const requestIds = results.map((r) => r.response!.request_id);
    expect(new Set(requestIds).size).toBe(1_000);
    const ledger = await billedFor(requestIds);
    expect(ledger).toHaveLength(1_000);
    for (const row of ledger) {
      expect(row.tier).toBe('batch');
      const usage = { inputTokens: row.input_tokens, cachedInputTokens: row.cached_input_tokens, outputTokens: row.output_tokens };
      const atBatchPrice = priceUsage({ tier: Tier.TIER_BATCH, model: row.model, usage } as never, DEFAULT_PRICE_BOOK).amountMicros;
      const atListPrice = priceUsage({ tier: Tier.TIER_REALTIME, model: row.model, usage } as never, DEFAULT_PRICE_BOOK).amountMicros;
      expect(Number(row.amount_micros)).toBe(atBatchPrice);
      expect(atBatchPrice).toBeLessThan(atListPrice);
    }

    const listed = await openai.batches.list({ limit: 10 });
    expect(listed.data.map((b) => b.id)).toContain(created.id);
  }, 180_000);

  it('reports bad lines in the error file by line number while the rest of the batch runs', async () => {
    const lines = [
      chatLine('ok-1', 'first'),
      '{"custom_id": "broken", "method": ',
      chatLine('ok-1', 'a repeated custom_id'),
      chatLine('other-endpoint', 'x', { url: '/v1/embeddings' }),
      chatLine('too-big', 'x'.repeat(3_000)),
      chatLine('unknown-model', 'x', { body: { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] } }),
      chatLine('ok-2', 'second'),
    ];
    const created = await openai.batches.create({ input_file_id: (await upload(lines)).id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await batchEnded(openai, created.id);
    expect(batch).toMatchObject({ status: 'completed', request_counts: { total: 7, completed: 2, failed: 5 } });
    expect((await readResultLines(openai, batch.output_file_id)).map((r) => r.custom_id)).toEqual(['ok-1', 'ok-2']);
    const errors = await readResultLines(openai, batch.error_file_id);
    expect(errors.map((e) => [e.error?.line, e.custom_id, e.error?.code])).toEqual([
      [2, null, 'invalid_json'],
      [3, 'ok-1', 'duplicate_custom_id'],
      [4, 'other-endpoint', 'wrong_endpoint'],
      [5, 'too-big', 'body_too_large'],
      [6, 'unknown-model', expect.any(String)],
    ]);
    // The unknown model ran through admission, which answered as it answers a direct call.
    expect(errors[4]!.response?.status_code).toBeGreaterThanOrEqual(400);
  }, 60_000);

  it('fails a batch none of whose lines can run, listing the lines and why', async () => {
    const lines = ['{"custom_id": "a", "method": ', chatLine('b', 'x', { url: '/v1/embeddings' })];
    const created = await openai.batches.create({ input_file_id: (await upload(lines)).id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const batch = await batchEnded(openai, created.id, 30_000);
    expect(batch).toMatchObject({ status: 'failed', output_file_id: null, request_counts: { total: 2, completed: 0, failed: 2 } });
    expect(batch.errors?.data?.map((e) => [e.line, e.code])).toEqual([
      [1, 'invalid_json'],
      [2, 'wrong_endpoint'],
    ]);
    expect(batch.failed_at).toBeGreaterThan(0);
  }, 30_000);

  it('refuses an upload that is not JSONL, too large or too long, naming the limit, and stores nothing', async () => {
    const refusal = (p: Promise<unknown>) => p.then(() => undefined).catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    const csv = await refusal(upload(['timestamp,input,output', '1,2,3'], 'trace.csv'));
    expect(csv?.status).toBe(400);
    expect(csv?.message).toMatch(/not JSONL/);
    const big = await refusal(upload(Array.from({ length: 1_100 }, (_, i) => chatLine(`b-${i}`, 'y'.repeat(1_800)))));
    expect(big?.status).toBe(400);
    expect(big?.message).toMatch(/2000000 bytes/);
    const long = await refusal(upload(Array.from({ length: 2_001 }, (_, i) => chatLine(`l-${i}`, 'z'))));
    expect(long?.status).toBe(400);
    expect(long?.message).toMatch(/more than 2000 request lines/);
    const purpose = await refusal(openai.files.create({ file: await toFile(Buffer.from(`${chatLine('a', 'b')}\n`), 'x.jsonl'), purpose: 'fine-tune' }));
    expect(purpose?.status).toBe(400);
    const stored = await system.sql`SELECT id FROM batch_files WHERE filename IN ('trace.csv', 'x.jsonl')`;
    expect(stored).toHaveLength(0);
  }, 60_000);

  it('keeps one tenant out of another tenant`s files and batches, and answers unknown ids in OpenAI`s shape', async () => {
    const file = await upload([chatLine('mine', 'private')]);
    const other = new OpenAI({ apiKey: system.otherApiKey, baseURL: system.httpUrl, maxRetries: 0 });
    await expect(other.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({
      status: 404,
    });
    await expect(openai.batches.retrieve('batch_nope')).rejects.toMatchObject({ status: 404, type: 'invalid_request_error' });
    await expect(openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '1h' as '24h' })).rejects.toMatchObject({
      status: 400,
    });
    const deleted = await openai.files.delete(file.id);
    expect(deleted).toMatchObject({ id: file.id, deleted: true });
    await expect(openai.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
  }, 30_000);
});

describe('the Batch API over gRPC (BatchService)', () => {
  /** One unary call with a tenant's key. */
  const call = <Res>(send: (md: Metadata, cb: (e: ServiceError | null, res: Res) => void) => unknown, key = system.apiKey) =>
    new Promise<Res>((resolve, reject) => {
      const md = new Metadata();
      md.set('authorization', `Bearer ${key}`);
      send(md, (e, res) => (e ? reject(e) : resolve(res)));
    });

  it('uploads, submits, pages through batches and streams the results', async () => {
    const client = new BatchServiceClient(system.batchAddress!, credentials.createInsecure());
    const content = Buffer.from(`${chatLine('g-1', 'one')}\n${chatLine('g-2', 'two')}\n`);
    const uploaded = await call<UploadFileResponse>((md, cb) => client.uploadFile({ filename: 'grpc.jsonl', purpose: 'batch', content }, md, cb));
    const submitted = await call<SubmitBatchResponse>((md, cb) =>
      client.submitBatch({ inputFileId: uploaded.file!.id, endpoint: '/v1/chat/completions', completionWindow: '', metadata: {} }, md, cb),
    );
    const id = submitted.batch!.id;
    await waitFor(
      'the gRPC batch completes',
      async () => ((await call<GetBatchResponse>((md, cb) => client.getBatch({ batchId: id }, md, cb))).batch!.status === 'completed' ? true : undefined),
      60_000,
    );

    const results: { customId: string; error: boolean }[] = [];
    await new Promise<void>((resolve, reject) => {
      const md = new Metadata();
      md.set('authorization', `Bearer ${system.apiKey}`);
      const stream = client.getBatchResults({ batchId: id }, md);
      stream.on('data', (r: { customId: string; error: boolean }) => results.push(r));
      stream.on('error', reject);
      stream.on('end', resolve);
    });
    expect(results.map((r) => [r.customId, r.error]).sort()).toEqual([
      ['g-1', false],
      ['g-2', false],
    ]);

    const page1 = await call<ListBatchesResponse>((md, cb) => client.listBatches({ after: '', limit: 1 }, md, cb));
    expect(page1.batches.map((b) => b.id)).toEqual([id]);
    expect(page1.hasMore).toBe(true);
    const page2 = await call<ListBatchesResponse>((md, cb) => client.listBatches({ after: id, limit: 100 }, md, cb));
    expect(page2.batches.map((b) => b.id)).not.toContain(id);

    await expect(call<CancelBatchResponse>((md, cb) => client.cancelBatch({ batchId: id }, md, cb))).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
    });
    await expect(call<GetBatchResponse>((md, cb) => client.getBatch({ batchId: id }, md, cb), system.otherApiKey)).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
    await expect(call<GetBatchResponse>((md, cb) => client.getBatch({ batchId: id }, md, cb), 'sy_not_a_key')).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
    client.close();
  }, 90_000);
});

import { testPool, waitFor } from '@switchyard/testing';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOffPeak } from '@switchyard/batch';
import { batchEnded, chatLines, readResultLines } from '../support/batch-files.js';
import { readStream } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;
let openai: OpenAI;
/** The batch service's clock runs this far ahead of the real one (the expiry test moves it). */
let clockAheadMs = 0;

/** An off-peak window that opens two hours from now (UTC), so it is closed while the test runs. */
const closedWindow = () => {
  const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  return `${hhmm(Date.now() + 2 * 3600_000)}-${hhmm(Date.now() + 3 * 3600_000)}`;
};

beforeAll(async () => {
  system = await startSystem({
    pools: [testPool({ id: 'test-eu-h100-8b' })],
    inFlightPerTenant: { batch: 64 },
    // Two lines at a time, so a batch is still running when the test stops it.
    batch: { backfill: { ceiling: 2, floor: 1 }, now: () => Date.now() + clockAheadMs, offPeak: parseOffPeak(`globex=${closedWindow()}`) },
  });
  openai = new OpenAI({ apiKey: system.apiKey, baseURL: system.httpUrl, maxRetries: 0 });
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

async function submit(client: OpenAI, lines: number) {
  const file = await client.files.create({ file: await toFile(Buffer.from(chatLines(lines, 'q', 4)), 'stop.jsonl'), purpose: 'batch' });
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
}

async function startBatch(lines: number) {
  const batch = await submit(openai, lines);
  await waitFor('some lines complete', async () => ((await openai.batches.retrieve(batch.id)).request_counts!.completed >= 3 ? true : undefined), 30_000);
  return batch.id;
}

/** Checks what a stopped batch returns and bills: every line once, the finished ones billed once, nothing else. */
async function expectFinishedPartOnly(id: string, lines: number, stoppedCode: string) {
  const batch = await batchEnded(openai, id, 60_000);
  const outputs = await readResultLines(openai, batch.output_file_id);
  const errors = await readResultLines(openai, batch.error_file_id);
  expect(outputs.length).toBeGreaterThanOrEqual(3);
  expect(outputs.length).toBeLessThan(lines);
  expect(new Set([...outputs, ...errors].map((l) => l.custom_id)).size).toBe(lines);
  expect(outputs.length + errors.length).toBe(lines);
  expect(errors.every((e) => e.error?.code === stoppedCode)).toBe(true);
  expect(batch.request_counts).toEqual({ total: lines, completed: outputs.length, failed: errors.length });

  const billed = outputs.map((o) => o.response!.request_id);
  const rows = await waitFor(
    'billing posts the finished lines',
    async () => {
      const r = await system.sql<
        { request_id: string }[]
      >`SELECT request_id FROM ledger_transactions WHERE kind = 'usage' AND request_id IN ${system.sql(billed)}`;
      return r.length >= billed.length ? r : undefined;
    },
    30_000,
  );
  expect(rows.map((r) => r.request_id).sort()).toEqual([...billed].sort());
  return batch;
}

describe('stopping a batch part-way', () => {
  it('cancel stops new requests within 1 s; the finished part is returned and billed, nothing else', async () => {
    const id = await startBatch(200);
    const cancelled = await openai.batches.cancel(id);
    const cancelAt = Date.now();
    expect(cancelled.status).toBe('cancelling');
    const batch = await expectFinishedPartOnly(id, 200, 'batch_cancelled');
    expect(batch.status).toBe('cancelled');
    expect(batch.cancelled_at).toBeGreaterThan(0);

    // No line of the batch was admitted later than 1 s after the cancel.
    const admittedLate = (await readStream(system.nc, 'REQUESTS')).filter(({ event }) => Number(event.envelope?.timeUnixMs ?? 0) > cancelAt + 1_000);
    expect(admittedLate).toEqual([]);
    const billedTotal = await system.sql`SELECT count(*)::int AS n FROM ledger_transactions WHERE kind = 'usage' AND tenant = 'acme'`;
    expect(billedTotal[0]!.n).toBe(batch.request_counts!.completed);
    await expect(openai.batches.cancel(id)).rejects.toMatchObject({ status: 400 });
  }, 90_000);

  it('holds a tenant`s lines outside its off-peak window while others run; a cancel ends the held batch at once', async () => {
    const globex = new OpenAI({ apiKey: system.otherApiKey, baseURL: system.httpUrl, maxRetries: 0 });
    const held = await submit(globex, 5);
    await waitFor('the held batch is validated', async () => ((await globex.batches.retrieve(held.id)).status === 'in_progress' ? true : undefined), 30_000);
    // Submitted after it, by a tenant without a window: it runs to the end meanwhile.
    const other = await submit(openai, 5);
    expect(await batchEnded(openai, other.id, 60_000)).toMatchObject({ status: 'completed', request_counts: { completed: 5 } });
    expect((await globex.batches.retrieve(held.id)).request_counts).toEqual({ total: 5, completed: 0, failed: 0 });

    await globex.batches.cancel(held.id);
    const ended = await batchEnded(globex, held.id, 15_000);
    expect(ended).toMatchObject({ status: 'cancelled', request_counts: { total: 5, completed: 0, failed: 5 } });
    expect((await readResultLines(globex, ended.error_file_id)).map((l) => l.error?.code)).toEqual(Array(5).fill('batch_cancelled'));
  }, 90_000);

  it('a batch past its completion window expires: its finished results come back, only they are billed', async () => {
    const id = await startBatch(200);
    clockAheadMs = 25 * 3600_000;
    const batch = await expectFinishedPartOnly(id, 200, 'batch_expired');
    expect(batch.status).toBe('expired');
    expect(batch.expired_at).toBeGreaterThan(0);
  }, 90_000);
});

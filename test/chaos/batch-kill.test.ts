import { setTimeout as sleep } from 'node:timers/promises';
import { testPool, waitFor } from '@switchyard/testing';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatLines, readResultLines } from '../support/batch-files.js';
import { startServiceProcess } from '../support/service-process.js';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem({ pools: [testPool({ id: 'test-eu-h100-8b' })], inFlightPerTenant: { batch: 64 }, batch: { inProcess: false } });
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

describe('chaos: kill -9 the process running the BullMQ workers mid-batch', () => {
  it('every line of the batch has exactly one result and one bill', async () => {
    // Short locks, so the killed process's jobs are taken up again within seconds.
    const env = { ...system.batchEnv!, BATCH_LOCK_MS: '3000' };
    let batch = await startServiceProcess('batch', env);
    const openai = new OpenAI({ apiKey: system.apiKey, baseURL: system.httpUrl, maxRetries: 3 });
    const lines = 400;
    const jsonl = chatLines(lines, 'k');
    const file = await openai.files.create({ file: await toFile(Buffer.from(jsonl), 'kill.jsonl'), purpose: 'batch' });
    const { id } = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });

    for (const settledBeforeKill of [60, 200]) {
      await waitFor(
        `${settledBeforeKill} lines settle`,
        async () => ((await openai.batches.retrieve(id)).request_counts!.completed >= settledBeforeKill ? true : undefined),
        60_000,
      );
      await batch.kill();
      await sleep(300);
      batch = await startServiceProcess('batch', env);
    }

    const done = await waitFor(
      'the batch ends',
      async () => {
        const b = await openai.batches.retrieve(id);
        return b.status === 'completed' ? b : undefined;
      },
      90_000,
    );
    const outputs = await readResultLines(openai, done.output_file_id);
    const errors = await readResultLines(openai, done.error_file_id);
    await batch.stop();
    console.log(`batch chaos: ${outputs.length} results, ${errors.length} errors ${JSON.stringify(errors.slice(0, 3).map((e) => e.error))}`);
    expect(errors).toEqual([]);
    expect(outputs).toHaveLength(lines);
    expect(new Set(outputs.map((o) => o.custom_id)).size).toBe(lines);

    const requestIds = outputs.map((o) => o.response!.request_id);
    expect(new Set(requestIds).size).toBe(lines);
    const billed = await waitFor(
      'billing posts every line',
      async () => {
        const rows = await system.sql<{ request_id: string; n: number }[]>`
          SELECT request_id, count(*)::int AS n FROM ledger_transactions WHERE kind = 'usage' AND tenant = 'acme' GROUP BY request_id`;
        return rows.length >= lines ? rows : undefined;
      },
      60_000,
    );
    // Exactly the requests in the output, each once: a line run again after the kill joined its first run.
    expect(billed.every((r) => r.n === 1)).toBe(true);
    expect(billed.map((r) => r.request_id).sort()).toEqual([...requestIds].sort());
  }, 240_000);
});

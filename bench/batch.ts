/**
 * `pnpm bench:batch`: the batch tier on this machine.
 *
 * 1. Bounded memory: a 50,000-line batch (`--lines N` to change) is uploaded through the
 *    OpenAI facade, fanned out, run and its output file streamed back, with the batch
 *    service as its own process; prints the wall time of each step and the service's peak
 *    resident memory, sampled every 200 ms.
 *    `--service-heap-mb N` caps the service's V8 old space (NODE_OPTIONS), to show the run fits.
 * 2. Backfill (skipped with `--memory-only`): the same realtime burst that fills a pool (closed loop, workers in real time),
 *    once alone and once with a large batch running on the same pool; prints the realtime
 *    TTFT SLO attainment of each and the difference.
 */
import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Tier, createSwitchyardClient } from '@switchyard/sdk';
import { testPool, waitFor } from '@switchyard/testing';
import OpenAI from 'openai';
import { closedLoop } from './lib/load.js';
import { rssMb } from './lib/process-memory.js';
import { fmt } from './lib/stats.js';
import { startServiceProcess } from '../test/support/service-process.js';
import { startSystem } from '../test/support/system.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const QUICK = process.argv.includes('--quick');
const LINES = arg('--lines', QUICK ? 5_000 : 50_000);
const BURST_S = QUICK ? 10 : 20;
const SERVICE_HEAP_MB = arg('--service-heap-mb', 0);

const line = (i: number, model: string, maxTokens: number) =>
  JSON.stringify({
    custom_id: `line-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: `Classify support ticket number ${i} by urgency.` }], max_tokens: maxTokens },
  });

function writeBatchFile(lines: number, model: string, maxTokens: number): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sy-batch-bench-')), 'batch.jsonl');
  writeFileSync(path, `${Array.from({ length: lines }, (_, i) => line(i, model, maxTokens)).join('\n')}\n`);
  return path;
}

async function boundedMemory() {
  const pools = [testPool({ id: 'bench-h100-8b', workers: 4, slotsPerWorker: 64 })];
  const system = await startSystem({ pools, inFlightPerTenant: { batch: 4096 }, batch: { inProcess: false } });
  const heap: Record<string, string> = SERVICE_HEAP_MB ? { NODE_OPTIONS: `--max-old-space-size=${SERVICE_HEAP_MB}` } : {};
  const service = await startServiceProcess('batch', { ...system.batchEnv!, ...heap });
  const pid = service.pid!;
  let peak = rssMb(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 200);
  const openai = new OpenAI({ apiKey: system.apiKey, baseURL: system.httpUrl, maxRetries: 0, timeout: 600_000 });
  const path = writeBatchFile(LINES, 'llama-3.1-8b', 16);
  const bytes = readFileSync(path).length;
  const idle = rssMb(pid);

  let t = performance.now();
  const file = await openai.files.create({ file: createReadStream(path), purpose: 'batch' });
  const uploadS = (performance.now() - t) / 1000;
  t = performance.now();
  const created = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  let last = '';
  const done = await waitFor(
    'the batch completes',
    async () => {
      const b = await openai.batches.retrieve(created.id);
      const progress = `${b.status} ${b.request_counts?.completed ?? 0}/${b.request_counts?.total ?? 0}`;
      if (progress !== last) process.stdout.write(`\r  ${progress}   `);
      last = progress;
      return b.status === 'completed' ? b : undefined;
    },
    3_600_000,
  );
  const runS = (performance.now() - t) / 1000;
  t = performance.now();
  const content = await openai.files.content(done.output_file_id!);
  let lines = 0;
  let downloaded = 0;
  for await (const chunk of content.body as unknown as AsyncIterable<Uint8Array>) {
    downloaded += chunk.length;
    for (const byte of chunk) if (byte === 0x0a) lines++;
  }
  const downloadS = (performance.now() - t) / 1000;
  clearInterval(sampler);
  process.stdout.write('\n');
  await service.stop();
  await system.stop();
  return { bytes, uploadS, runS, downloadS, lines, downloaded, idle, peak, counts: done.request_counts! };
}

async function backfill() {
  // One pool, workers in real time: GPU time, not this machine's CPU, is what the tiers share.
  const pools = [testPool({ id: 'bench-h100-1b', model: 'llama-3.2-1b', workers: 1, slotsPerWorker: 32 })];
  const system = await startSystem({ pools, workerSpeed: 1, inFlightPerTenant: { realtime: 4096, batch: 4096 }, batch: {} });
  const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
  const openai = new OpenAI({ apiKey: system.otherApiKey, baseURL: system.httpUrl, maxRetries: 0 });
  const SLO_MS = 1_000;
  const burst = async () => {
    const result = await closedLoop(
      () =>
        client
          .complete({ model: 'llama-3.2-1b', prompt: 'A realtime question of a few words', maxTokens: 32, tier: Tier.TIER_REALTIME, timeoutMs: 30_000 })
          .then(() => 0),
      32,
      BURST_S,
    );
    return result;
  };
  // TTFT per request from the usage events of the realtime tier, split by run.
  const ttfts = async (fromMs: number, toMs: number) => {
    const rows = await system.sql<{ ttft_ms: number }[]>`
      SELECT ttft_ms FROM metered_usage WHERE tier = 'realtime' AND recorded_at >= to_timestamp(${fromMs / 1000}) AND recorded_at < to_timestamp(${toMs / 1000})`;
    return rows.map((r) => r.ttft_ms);
  };
  const attainment = (values: number[], offered: number) => (offered ? (values.filter((v) => v <= SLO_MS).length / offered) * 100 : 0);

  let from = Date.now();
  const alone = await burst();
  await sleep(3_000);
  const aloneTtft = await ttfts(from, Date.now());

  const path = writeBatchFile(QUICK ? 3_000 : 20_000, 'llama-3.2-1b', 64);
  const file = await openai.files.create({ file: createReadStream(path), purpose: 'batch' });
  const batch = await openai.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  await waitFor('the batch runs', async () => ((await openai.batches.retrieve(batch.id)).request_counts!.completed > 50 ? true : undefined), 120_000);
  from = Date.now();
  const beside = await burst();
  await sleep(3_000);
  const besideTtft = await ttfts(from, Date.now());
  const progress = await openai.batches.retrieve(batch.id);
  await openai.batches.cancel(batch.id);
  client.close();
  await system.stop();
  return {
    alone: { ...alone, attainment: attainment(aloneTtft, alone.completed + alone.failed) },
    beside: { ...beside, attainment: attainment(besideTtft, beside.completed + beside.failed) },
    batchCompleted: progress.request_counts!.completed,
  };
}

const memory = await boundedMemory();
console.log(`bounded memory: ${LINES} lines (${fmt(memory.bytes / 1e6)} MB)`);
console.log(
  `  upload ${fmt(memory.uploadS)} s, validate + run ${fmt(memory.runS)} s (${fmt(LINES / memory.runS, 0)} lines/s), download ${fmt(memory.downloadS)} s`,
);
console.log(`  results: ${memory.lines} lines, ${fmt(memory.downloaded / 1e6)} MB; counts ${JSON.stringify(memory.counts)}`);
console.log(
  `  batch service resident memory: ${fmt(memory.idle, 0)} MB idle, ${fmt(memory.peak, 0)} MB peak${SERVICE_HEAP_MB ? ` (V8 old space capped at ${SERVICE_HEAP_MB} MB)` : ''}`,
);
if (process.argv.includes('--memory-only')) process.exit(0);

const slo = await backfill();
console.log(`backfill: realtime burst of 32 streams for ${BURST_S} s on one 32-slot pool, TTFT SLO 1,000 ms`);
console.log(`  alone:              ${slo.alone.completed} completed, ${slo.alone.failed} failed, SLO attainment ${fmt(slo.alone.attainment)}%`);
console.log(`  with a batch running: ${slo.beside.completed} completed, ${slo.beside.failed} failed, SLO attainment ${fmt(slo.beside.attainment)}%`);
console.log(`  difference ${fmt(slo.alone.attainment - slo.beside.attainment)} points (target <= 2); batch lines completed meanwhile ${slo.batchCompleted}`);
process.exit(0);

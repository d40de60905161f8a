/**
 * `pnpm bench:batching`: the same offered load (open loop, paced) on the same GPU, with
 * batch-of-one forwarding (each request alone, one sequence per GPU at a time: what a plain
 * proxy in front of a worker does) and with dynamic batching (the batcher's rules plus the
 * worker's continuous batching). Workers run in real time; prints tokens/s per GPU over the
 * window and the realtime TTFT of the requests that got their first token in it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Tier, type UsageRecorded } from '@switchyard/contracts';
import type { PoolSpec } from '@switchyard/config';
import { createSwitchyardClient } from '@switchyard/sdk';
import { fmt, summarize } from './lib/stats.js';
import { readStream } from '../test/support/read-stream.js';
import { startSystem } from '../test/support/system.js';
import { testPool } from '@switchyard/testing';

const SECONDS = process.argv.includes('--quick') ? 10 : 20;
/** Requests per second offered: several times what one sequence at a time can serve. */
const RATE = 6;

const pool = (slots: number): PoolSpec => testPool({ id: 'bench-h100-8b', region: 'us-east-1', slotsPerWorker: slots });

async function run(name: string, slots: number, maxRequests: number) {
  const system = await startSystem({ pools: [pool(slots)], workerSpeed: 1, batcherRules: { maxRequests } });
  const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
  // ~1,024 prompt tokens and 128 output tokens, realtime: a chat turn.
  const prompt = 'Summarise the incident report below for the on-call engineer. '.repeat(66);
  const started = performance.now();
  for (let i = 0; i < RATE * SECONDS; i++) {
    const due = started + (i * 1000) / RATE;
    await sleep(Math.max(0, due - performance.now()));
    void client.complete({ model: 'llama-3.1-8b', prompt, maxTokens: 128, tier: Tier.TIER_REALTIME, timeoutMs: 600_000 }).catch(() => {});
  }
  const windowS = (performance.now() - started) / 1000;
  const usage = (await readStream(system.nc, 'USAGE')).flatMap(({ event }) =>
    event.payload?.$case === 'usageRecorded' ? [event.payload.usageRecorded as UsageRecorded] : [],
  );
  const tokens = usage.reduce((a, u) => a + (u.usage?.outputTokens ?? 0), 0);
  const ttft = summarize(usage.map((u) => u.ttftMs));
  client.close();
  await system.stop();
  return { name, completed: usage.length, tokensPerGpuS: tokens / windowS, ttftP50: ttft.p50, ttftP99: ttft.p99 };
}

const one = await run('batch-of-one', 1, 1);
const dynamic = await run('dynamic batching', 64, 64);
console.log(`\n${RATE} realtime requests/s offered (1,024 + 128 tokens), 8B on one H100, ${SECONDS} s, real time`);
console.log('mode               completed  tokens/s per GPU  TTFT p50 ms  TTFT p99 ms');
for (const r of [one, dynamic]) {
  console.log(
    `${r.name.padEnd(17)}  ${String(r.completed).padStart(9)}  ${fmt(r.tokensPerGpuS, 0).padStart(16)}  ${fmt(r.ttftP50, 0).padStart(11)}  ${fmt(r.ttftP99, 0).padStart(11)}`,
  );
}
console.log(
  `\ndynamic / batch-of-one tokens/s per GPU: ${fmt(dynamic.tokensPerGpuS / one.tokensPerGpuS, 1)}x (target >= 5x); realtime TTFT p99 ${fmt(dynamic.ttftP99, 0)} ms (SLO 1000 ms)`,
);
process.exit(0);

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { hashApiKey } from '@switchyard/auth';
import { Tier } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { startNats, startPostgres, startRedis, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateStackEnv } from './private-stack.js';
import { REPO_ROOT, firstServedRequest, startStack, type Stack } from './stack.js';

/**
 * Issue #15, item 1, against the system as `switchyard up` runs it (every service its own
 * process): ten bursts of 300 concurrent streamed chat completions from one tenant, internal
 * tier, while another tenant sends a steady realtime side load. That tenant is served all
 * along, because admission paces each tenant's internal calls (16 at once by default) instead
 * of letting one burst fill every queue to the GPUs. Measured here: side load p99 ~31 ms
 * alone; during the bursts ~1,080 ms unpaced (34x), ~180 ms paced at 16 (6x), ~67 ms at 4
 * (2.2x, with bursts three times slower). The two cores run the bursts too, so some rise is
 * the price of serving them at full speed; the bound below fails without pacing.
 */

const BURSTS = 10;
const PER_BURST = 300;
const BURSTY = 'sy_bursty_tenant_key';
const STEADY = 'sy_steady_tenant_key';

let servers: TestServer[] = [];
let stack: Stack | undefined;
let grpcAddress = '';
let httpUrl = '';

beforeAll(async () => {
  const [nats, redis, pg] = await Promise.all([startNats(), startRedis(), startPostgres()]);
  servers = [nats, redis, pg];
  const stackEnv = await privateStackEnv(
    { nats: nats.url, redis: redis.url, postgres: pg.url },
    `bursty:b-1:${hashApiKey(BURSTY)},steady:s-1:${hashApiKey(STEADY)}`,
  );
  const { env } = stackEnv;
  grpcAddress = stackEnv.grpcAddress;
  httpUrl = stackEnv.httpUrl;
  stack = await startStack(env, join(REPO_ROOT, '.switchyard', 'burst-test-logs'), () => {});
  await firstServedRequest(grpcAddress, STEADY, 50_000);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await Promise.all(servers.map((s) => s.dispose()));
});

/**
 * The bursts run on a thread of their own, as another application would: the side load's
 * latencies are then Switchyard's, not this test's event loop busy with 300 streams.
 */
const BURSTER = `
const { parentPort, workerData } = require('node:worker_threads');
const call = async () => {
  const res = await fetch(workerData.url + '/chat/completions', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + workerData.key, 'content-type': 'application/json', 'x-switchyard-tier': 'internal' },
    body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'burst' }], max_tokens: 16, stream: true }),
    signal: AbortSignal.timeout(60000),
  });
  const text = await res.text();
  return res.status === 200 && text.endsWith('data: [DONE]\\n\\n');
};
(async () => {
  let completed = 0;
  for (let b = 0; b < workerData.bursts; b++) completed += (await Promise.all(Array.from({ length: workerData.perBurst }, call))).filter(Boolean).length;
  parentPort.postMessage(completed);
})();
`;

function runBursts(): Promise<number> {
  const worker = new Worker(BURSTER, { eval: true, workerData: { url: httpUrl, key: BURSTY, bursts: BURSTS, perBurst: PER_BURST } });
  return new Promise((resolve, reject) => {
    worker.once('message', (n: number) => void worker.terminate().then(() => resolve(n)));
    worker.once('error', reject);
  });
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? 0;

describe('a burst of streamed calls from one tenant', () => {
  it('leaves another tenant served, its p99 within 10x of its own (34x unpaced), through ten bursts of 300', async () => {
    const steady = createSwitchyardClient({ address: grpcAddress, apiKey: STEADY });
    const sideLoad = async (done: () => boolean, latencies: number[], failures: string[]) => {
      while (!done()) {
        const t0 = performance.now();
        try {
          await steady.complete({ model: 'llama-3.1-8b', prompt: 'side load', maxTokens: 4, tier: Tier.TIER_REALTIME, timeoutMs: 10_000 });
          latencies.push(performance.now() - t0);
        } catch (e) {
          failures.push((e as Error).message);
        }
        await sleep(20);
      }
    };
    const warmUntil = Date.now() + 2_000;
    await sideLoad(() => Date.now() > warmUntil, [], []);
    const alone: number[] = [];
    const aloneUntil = Date.now() + 4_000;
    await sideLoad(() => Date.now() > aloneUntil, alone, []);

    const during: number[] = [];
    const failures: string[] = [];
    let bursting = true;
    const side = sideLoad(() => !bursting, during, failures);
    let completed = 0;
    const t0 = performance.now();
    try {
      completed = await runBursts();
    } finally {
      bursting = false;
      await side;
      steady.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `${completed} of ${BURSTS * PER_BURST} burst streams completed in ${seconds.toFixed(1)} s; ` +
        `side load p99 ${p99(alone).toFixed(1)} ms alone (${alone.length} calls), ${p99(during).toFixed(1)} ms during the bursts (${during.length} calls, ${failures.length} failed)`,
    );
    expect(completed).toBe(BURSTS * PER_BURST);
    expect(failures).toEqual([]);
    expect(during.length).toBeGreaterThan(BURSTS * 5);
    expect(p99(during)).toBeLessThanOrEqual(10 * p99(alone));
  }, 240_000);
});

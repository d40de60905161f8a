import { setTimeout as sleep } from 'node:timers/promises';
import { Tier, type UsageRecorded } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { waitFor, testPool } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;

beforeAll(async () => {
  // One small worker (4 sequences at a time), so 32 batch-tier requests overload it.
  system = await startSystem({
    workerSpeed: 4,
    pools: [testPool({ id: 'tiny-h100-8b', slotsPerWorker: 4 })],
  });
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.99) - 1]!;

describe('batcher under overload', () => {
  it('lets realtime requests overtake queued batch-tier requests', async () => {
    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    const batch = Array.from({ length: 32 }, (_, i) =>
      client.complete({ model: 'llama-3.1-8b', prompt: `batch job ${i}`, maxTokens: 32, tier: Tier.TIER_BATCH, timeoutMs: 120_000 }),
    );
    await sleep(300);
    const realtime: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      realtime.push(client.complete({ model: 'llama-3.1-8b', prompt: `user turn ${i}`, maxTokens: 32, tier: Tier.TIER_REALTIME, timeoutMs: 120_000 }));
      await sleep(100);
    }
    await Promise.all([...batch, ...realtime]);
    const usage = await waitFor('usage of all 38 requests', async () => {
      const u = (await readStream(system.nc, 'USAGE')).flatMap(({ event }) =>
        event.payload?.$case === 'usageRecorded' ? [event.payload.usageRecorded as UsageRecorded] : [],
      );
      return u.length >= 38 ? u : undefined;
    });
    const wait = (tier: Tier) => usage.filter((u) => u.tier === tier).map((u) => u.queueMs);
    const rt = p99(wait(Tier.TIER_REALTIME));
    const bt = p99(wait(Tier.TIER_BATCH));
    console.log(`queue wait p99: realtime ${rt.toFixed(0)} ms, batch ${bt.toFixed(0)} ms (${((100 * rt) / bt).toFixed(1)} %)`);
    expect(rt).toBeLessThanOrEqual(0.1 * bt);
    client.close();
  }, 120_000);
});

import { setTimeout as sleep } from 'node:timers/promises';
import { createSwitchyardClient } from '@switchyard/sdk';
import { Tier } from '@switchyard/contracts';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admittedRequests, terminalsByRequest } from '../support/read-stream.js';
import { startServiceProcess } from '../support/service-process.js';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem({ inProcessBatcher: false });
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

describe('chaos: kill -9 the batcher during a load run', () => {
  it('every admitted request still ends in exactly one terminal outcome', async () => {
    const env = { NATS_URL: system.servers.nats.url, POOLS_FILE: system.poolsFile };
    let batcher = await startServiceProcess('batcher', env);
    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    const tiers = [Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH];
    let stop = false;
    let answered = 0;
    const loop = async (i: number) => {
      for (let n = 0; !stop; n++) {
        await client.complete({ model: 'llama-3.1-8b', prompt: `load ${i}-${n}`, maxTokens: 8, tier: tiers[n % 3], timeoutMs: 60_000 }).catch(() => {});
        answered++;
      }
    };
    const load = Promise.all(Array.from({ length: 12 }, (_, i) => loop(i)));

    for (const at of [1_500, 1_500]) {
      await sleep(at);
      await batcher.kill();
      await sleep(300);
      batcher = await startServiceProcess('batcher', env);
    }
    await sleep(1_500);
    stop = true;
    await load;
    await batcher.stop();

    const admitted = await admittedRequests(system.nc);
    expect(admitted.length).toBeGreaterThan(20);
    const terminals = await waitFor(
      'a terminal event for every admitted request',
      async () => {
        const t = await terminalsByRequest(system.nc);
        return admitted.every((id) => t.has(id)) ? t : undefined;
      },
      30_000,
    );
    const counts = admitted.map((id) => terminals.get(id)!.length);
    expect(counts.every((c) => c === 1)).toBe(true);
    console.log(
      `batcher chaos: ${admitted.length} admitted, ${answered} answered, outcomes ${JSON.stringify(countBy(admitted.map((id) => terminals.get(id)![0]!)))}`,
    );
    client.close();
  }, 120_000);
});

function countBy(values: string[]): Record<string, number> {
  return values.reduce<Record<string, number>>((acc, v) => ((acc[v] = (acc[v] ?? 0) + 1), acc), {});
}

import { jetstreamManager } from '@switchyard/bus';
import { Tier } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followTop, loadBookAt, type TopFeed } from '@switchyard/cli';
import { startSystem, TEST_POOLS, type RunningSystem } from '../support/system.js';

let system: RunningSystem;
let client: SwitchyardClient;
let feed: TopFeed;

beforeAll(async () => {
  system = await startSystem();
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey, billingAddress: system.billingAddress });
  const { bookAt } = await loadBookAt(system.nc, await jetstreamManager(system.nc));
  feed = await followTop({ nc: system.nc, pools: TEST_POOLS, bookAt, now: Date.now });
}, 60_000);

afterAll(async () => {
  feed?.stop();
  client?.close();
  await system?.stop();
});

describe('switchyard top', () => {
  it('shows completed requests per tier, the pool with its healthy workers and what acme spent', async () => {
    await Promise.all(
      Array.from({ length: 5 }, (_, i) => client.complete({ model: 'llama-3.1-8b', prompt: `top ${i}`, maxTokens: 8, tier: Tier.TIER_REALTIME })),
    );
    const s = await waitFor('completions and usage in the snapshot', async () => {
      const snap = await feed.snapshot();
      const done = snap.tiers.find((t) => t.tier === 'realtime')?.counts.completed === 5;
      return done && snap.tenants.some((t) => t.tenant === 'acme' && t.requests === 5) ? snap : undefined;
    });
    const realtime = s.tiers.find((t) => t.tier === 'realtime');
    expect(realtime?.counts.completed).toBe(5);
    expect(realtime?.admittedPerS).toBeGreaterThan(0);
    expect(realtime?.ttftMs.p50).toBeGreaterThan(0);
    const pool = s.pools.find((p) => p.pool === TEST_POOLS[0]!.id);
    expect(pool?.healthyWorkers).toBeGreaterThan(0);
    expect(s.tenants.find((t) => t.tenant === 'acme')?.spendMicros).toBeGreaterThan(0);
  });
});

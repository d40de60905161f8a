/**
 * Placement decision time, pure function, fleets of 10, 100 and 1,000 pools with live-looking
 * state (heartbeats, outstanding requests) and the measured H100/H200 step models.
 * `pnpm exec tsx bench/placement.ts`
 */
import type { PoolSpec } from '@switchyard/config';
import type { WorkerHeartbeat } from '@switchyard/contracts';
import { createLoadTracker, defaultScheduling, loadStepModels, placeRequest, poolStates, type FleetView } from '@switchyard/scheduler';

const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'ap-south-1'];
const PROVIDERS = ['aws', 'azure', 'gcp'];

function fleet(n: number): PoolSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `pool-${i}`,
    provider: PROVIDERS[i % 3]!,
    region: REGIONS[i % 4]!,
    gpu: i % 2 ? 'h200-141gb' : 'h100-80gb',
    model: i % 5 === 0 ? 'llama-3.2-1b' : 'llama-3.1-8b',
    workers: 2,
    capacityClass: (['on-demand', 'reserved', 'spot'] as const)[i % 3]!,
    pricePerGpuHour: 2 + (i % 7) * 0.4,
    tiers: ['realtime', 'internal', 'batch'],
    slotsPerWorker: 64,
  }));
}

async function measure(n: number): Promise<number> {
  const pools = fleet(n);
  const now = 1_000_000;
  const beats: WorkerHeartbeat[] = pools.flatMap((p, i) =>
    [0, 1].map((w) => ({
      pool: p.id,
      worker: `${p.id}-w${w}`,
      running: (i * 7) % 40,
      waiting: i % 3,
      freeSlots: 64 - ((i * 7) % 40),
      kvUsed: ((i * 13) % 90) / 100,
      stepMs: 10 + (i % 5),
      ttftMs: 40 + (i % 9) * 10,
      draining: false,
      atUnixMs: now - 200,
    })),
  );
  const tracker = createLoadTracker();
  pools.forEach((p, i) => {
    for (let k = 0; k < i % 6; k++) tracker.dispatched(`${p.id}-r${k}`, p.id, 'realtime', 800, 200, now);
  });
  const view: FleetView = {
    pools,
    models: await loadStepModels(pools),
    states: poolStates(beats, now, { staleMs: 3_000 }),
    outstanding: tracker.of,
    drained: new Set(),
  };
  let seed = 7;
  let turn = 0;
  const ctx = {
    config: defaultScheduling(),
    policy: 'switchyard' as const,
    random: () => (seed = (seed * 16807) % 2147483647) / 2147483647,
    turn: () => turn++,
  };
  const request = { tenant: 'acme', tier: 'realtime' as const, version: 'llama-3.1-8b', promptTokens: 900, maxTokens: 200, ageMs: 3 };
  // Warm the JIT, then time enough decisions for a steady figure at every fleet size.
  for (let i = 0; i < 3_000; i++) placeRequest(request, view, ctx);
  const rounds = 10_000;
  const t = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) placeRequest(request, view, ctx);
  return Number(process.hrtime.bigint() - t) / 1000 / rounds;
}

const figures: string[] = [];
for (const n of [10, 100, 1_000]) figures.push(`${n.toLocaleString('en-US')} pools ${(await measure(n)).toFixed(1)} us`);
console.log(`placement decision time: ${figures.join(', ')} per decision`);

/**
 * Placement decision time, pure function, fleets of 10, 100 and 1,000 pools with live-looking
 * state (heartbeats, outstanding requests) and the measured H100/H200 step models.
 * `pnpm exec tsx bench/placement.ts`
 */
import type { PoolSpec } from '@switchyard/config';
import type { WorkerHeartbeat } from '@switchyard/contracts';
import {
  createLoadTracker,
  createPrefixIndex,
  defaultScheduling,
  loadStepModels,
  placeRequest,
  poolStates,
  type FleetView,
  type PrefixHit,
} from '@switchyard/scheduler';

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

/** Blocks of prompts cached across the fleet for the prefix figure: the bound the index is stated at. */
const INDEXED_BLOCKS = 1_000_000;
/** The request's prompt: 32 blocks of 64 tokens, the first 24 cached on a few workers. */
const PROMPT_BLOCKS = 32;

async function measure(n: number, prefix = false): Promise<number> {
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
  let prefixHits: FleetView['prefixHits'];
  if (prefix) {
    // Every worker holds its share of a million blocks; workers of every 50th pool also hold
    // the request's first 24 blocks. Hits are looked up per decision, as the scheduler does.
    const index = createPrefixIndex({ maxBlocks: INDEXED_BLOCKS });
    const perWorker = Math.ceil(INDEXED_BLOCKS / beats.length);
    beats.forEach((b, w) =>
      index.stored(
        b.pool,
        b.worker,
        Array.from({ length: perWorker }, (_, k) => 1e9 + w * perWorker + k),
      ),
    );
    beats.forEach(
      (b, w) =>
        w % 100 === 0 &&
        index.stored(
          b.pool,
          b.worker,
          Array.from({ length: 24 }, (_, k) => k + 1),
        ),
    );
    const open = new Set(beats.map((b) => `${b.pool}\u0000${b.worker}`));
    prefixHits = (hashes) => {
      const best = new Map<string, PrefixHit>();
      for (const hit of index.hits(hashes)) {
        if (!open.has(`${hit.pool}\u0000${hit.worker}`)) continue;
        if ((best.get(hit.pool)?.blocks ?? 0) < hit.blocks) best.set(hit.pool, hit);
      }
      return best;
    };
  }
  const view: FleetView = {
    pools,
    models: await loadStepModels(pools),
    states: poolStates(beats, now, { staleMs: 3_000 }),
    outstanding: tracker.of,
    drained: new Set(),
    prefixHits,
  };
  let seed = 7;
  let turn = 0;
  const ctx = {
    config: defaultScheduling(),
    policy: 'switchyard' as const,
    random: () => (seed = (seed * 16807) % 2147483647) / 2147483647,
    turn: () => turn++,
  };
  const request = {
    tenant: 'acme',
    tier: 'realtime' as const,
    version: 'llama-3.1-8b',
    promptTokens: prefix ? PROMPT_BLOCKS * 64 + 10 : 900,
    maxTokens: 200,
    ageMs: 3,
    prefix: prefix ? { blockTokens: 64, hashes: Array.from({ length: PROMPT_BLOCKS }, (_, k) => k + 1) } : undefined,
  };
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

/** Heap the prefix index takes at its bound: a million blocks over 2,000 workers. */
function indexBytes(): { bytes: number; perBlock: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const index = createPrefixIndex({ maxBlocks: INDEXED_BLOCKS });
  const perWorker = INDEXED_BLOCKS / 2_000;
  for (let w = 0; w < 2_000; w++)
    index.stored(
      `pool-${w >> 1}`,
      `w${w & 1}`,
      Array.from({ length: perWorker }, (_, k) => 1e9 + w * perWorker + k),
    );
  gc?.();
  const bytes = process.memoryUsage().heapUsed - before;
  if (index.size() !== INDEXED_BLOCKS) throw new Error(`index holds ${index.size()} blocks`);
  return { bytes, perBlock: bytes / INDEXED_BLOCKS };
}
const { bytes, perBlock } = indexBytes();
console.log(
  `prefix term: a decision with a 32-block prompt looked up in a full index takes ${(await measure(1_000, true)).toFixed(1)} us at a thousand pools; ` +
    `the index holds at most ${INDEXED_BLOCKS.toLocaleString('en-US')} blocks in ${(bytes / 2 ** 20).toFixed(0)} MiB of heap (${perBlock.toFixed(0)} bytes a block)`,
);

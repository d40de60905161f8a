/**
 * `pnpm bench:prefix`: replays the Mooncake conversation trace (real prefix-block ids) against
 * a fleet of two pools of four simulated GPUs each, once per placement policy, and prints per
 * policy: goodput within the SLO, attainment and TTFT p50/p99 per tier, the prefix-cache hit
 * rate (prompt tokens read from a cache), GPU-hours and GPU cost.
 *
 * How the trace meets the fleet:
 * - Prompts keep the trace's 512-token blocks: block i's identity is the chain of the trace's
 *   `hash_ids[0..i]` (equal leading ids, equal prefix), one tenant. Only full blocks are
 *   cacheable, as in the engine. Prompts are cut at 32,768 tokens (their first 64 blocks; 4% of
 *   the trace is longer), outputs at 2,000.
 * - The trace rounds arrivals to ~3 s; each bucket's requests are spread evenly over it.
 * - Time is scaled so the mean arrival rate is `--load` (default 0.9) of what the fleet
 *   finishes per second without any cache (the simulator's performance model at full
 *   batches), from the trace's start, `--seconds` simulated seconds long.
 * - Tiers 70% realtime / 30% internal (it is a chat trace); objectives: realtime TTFT <= 2 s,
 *   internal <= 10 s (prompts average 12 K tokens: 2 s is a few prefills of queueing).
 *
 *   pnpm bench:prefix [--seconds 120] [--speed 4] [--load 0.9] [--policies switchyard,round-robin]
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { TierName } from '@switchyard/contracts';
import { parseTrace } from '@switchyard/cli';
import { loadStepModels, type PolicyName, type Route, type StepModel } from '@switchyard/scheduler';
import { gpuPool, mulberry32, printTable, report, runPolicy, type FleetRun, type Planned } from './lib/fleet-run.js';
import { fmt } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    speed: { type: 'string', default: '4' },
    load: { type: 'string', default: '0.9' },
    policies: { type: 'string', default: 'switchyard,switchyard-no-prefix,prefix-affinity,least-loaded,round-robin' },
    trace: { type: 'string', default: new URL('./traces/conversation_trace.jsonl', import.meta.url).pathname },
    seed: { type: 'string', default: '7' },
  },
});
const SIM_S = Number(opts.seconds);
const SPEED = Number(opts.speed);
const LOAD = Number(opts.load);
const POLICY_LIST = opts.policies!.split(',') as PolicyName[];

const BLOCK_TOKENS = 512;
const MAX_PROMPT = 32_768;
const MAX_OUTPUT = 2_000;

const FLEET = [
  gpuPool({
    id: 'aws-useast1-h100',
    provider: 'aws',
    region: 'us-east-1',
    gpu: 'h100-80gb',
    model: 'llama-3.1-8b',
    workers: 4,
    capacityClass: 'on-demand',
    pricePerGpuHour: 4.1,
    slotsPerWorker: 32,
  }),
  gpuPool({
    id: 'gcp-uscentral1-h200',
    provider: 'gcp',
    region: 'us-central1',
    gpu: 'h200-141gb',
    model: 'llama-3.1-8b',
    workers: 4,
    capacityClass: 'reserved',
    pricePerGpuHour: 3.2,
    slotsPerWorker: 48,
  }),
];
const ROUTES: Record<string, Route> = { chat: { versions: [{ version: 'llama-3.1-8b', weight: 1 }] } };
const SLO = { realtime: 2_000, internal: 10_000, batch: 300_000 } as const;
const DEADLINE = { realtime: 20_000, internal: 60_000, batch: 300_000 } as const;
const RUN: FleetRun = { fleet: FLEET, routes: ROUTES, slo: SLO, deadline: DEADLINE, speed: SPEED };
const TIERS: readonly TierName[] = ['realtime', 'internal'];

/** Block i's identity covers blocks 0..i: a 53-bit chain of the trace's ids (whether or not they are chained already). */
function chain(ids: readonly number[]): number[] {
  let h = 0n;
  return ids.map((id) => {
    h = BigInt.asUintN(53, (h * 0x100000001b3n) ^ BigInt(id + 1));
    return Number(h);
  });
}

/** The trace's first `SIM_S` simulated seconds at the load asked for. */
function plan(models: ReadonlyMap<string, StepModel>) {
  const rows = parseTrace(readFileSync(opts.trace!, 'utf8')).rows;
  const random = mulberry32(Number(opts.seed));
  // Spread each ~3 s bucket of arrivals evenly over it.
  const buckets = new Map<number, number[]>();
  rows.forEach((r, i) => buckets.set(r.atMs, [...(buckets.get(r.atMs) ?? []), i]));
  const starts = [...buckets.keys()].sort((a, b) => a - b);
  const atMs = new Array<number>(rows.length);
  starts.forEach((t, j) => {
    const members = buckets.get(t)!;
    const width = (starts[j + 1] ?? t + 3_000) - t;
    members.forEach((i, k) => (atMs[i] = t + (width * k) / members.length));
  });
  const all = rows.map((r, i) => {
    const prompt = Math.min(r.inputTokens, MAX_PROMPT);
    const full = Math.floor(prompt / BLOCK_TOKENS);
    return {
      atMs: atMs[i]!,
      prompt,
      output: Math.max(1, Math.min(r.outputTokens, MAX_OUTPUT)),
      tier: (random() < 0.7 ? 'realtime' : 'internal') as TierName,
      hashes: chain((r.hashIds ?? []).slice(0, full)),
    };
  });
  // Capacity without any cache: what the fleet finishes per second at full batches for this mix.
  const mean = (f: (r: (typeof all)[number]) => number) => all.reduce((a, r) => a + f(r), 0) / all.length;
  const prompt = mean((r) => r.prompt);
  const output = mean((r) => r.output);
  const capacity = FLEET.reduce((sum, p) => {
    const m = models.get(p.id)!;
    const perRequestMs = (output * m.decodeMs(p.slotsPerWorker, prompt + output / 2)) / p.slotsPerWorker + m.prefillMs(prompt);
    return sum + (p.workers * 1_000) / perRequestMs;
  }, 0);
  const traceRate = rows.length / ((rows.at(-1)!.atMs - rows[0]!.atMs) / 1_000);
  const k = (LOAD * capacity) / traceRate; // trace seconds per simulated second
  const requests: Planned[] = all
    .filter((r) => r.atMs / 1_000 / k < SIM_S)
    .map((r, i) => ({
      id: `mc-${i}`,
      simAtMs: r.atMs / k,
      tier: r.tier,
      model: 'chat',
      prompt: r.prompt,
      output: r.output,
      prefix: { hashes: r.hashes, blockTokens: BLOCK_TOKENS },
    }));
  return { requests, capacity, k, prompt, output, traceRate };
}

async function main() {
  const models = await loadStepModels(FLEET);
  const { requests, capacity, k, prompt, output, traceRate } = plan(models);
  const gpus = FLEET.reduce((a, p) => a + p.workers, 0);
  const blocks = requests.reduce((a, r) => a + r.prefix!.hashes.length, 0);
  const unique = new Set(requests.flatMap((r) => r.prefix!.hashes)).size;
  console.log(`fleet: ${FLEET.map((p) => `${p.id} x${p.workers}`).join(', ')} (${gpus} GPUs)`);
  console.log(
    `trace: Mooncake conversation, ${requests.length} requests (mean ${fmt(prompt, 0)} in / ${fmt(output, 0)} out), ${fmt(100 * (1 - unique / blocks), 1)}% of their prompt blocks repeat an earlier one`,
  );
  console.log(
    `load: capacity without cache ${fmt(capacity)} req/s; the trace's ${fmt(traceRate)} req/s compressed ${fmt(k, 2)}x = ${fmt(traceRate * k)} req/s (${fmt(LOAD * 100, 0)}%); ${SIM_S} s simulated at speed ${SPEED}`,
  );
  const results = [];
  for (const policy of POLICY_LIST) {
    const t = Date.now();
    const { outcomes, lagMs } = await runPolicy(RUN, policy, requests, models);
    results.push(report(RUN, SIM_S, policy, requests, outcomes));
    console.log(`  ${policy}: done in ${fmt((Date.now() - t) / 1000, 0)} s (replay lag ${fmt(lagMs, 0)} ms)`);
  }
  console.log(`\nper policy (simulated time; TTFT in ms; SLO: realtime TTFT <= ${SLO.realtime} ms, internal <= ${SLO.internal} ms):`);
  printTable(results, TIERS, true);
  const sw = results.find((r) => r.policy === 'switchyard');
  const rr = results.find((r) => r.policy === 'round-robin');
  const pa = results.find((r) => r.policy === 'prefix-affinity');
  if (sw && rr) {
    const p50 = (r: typeof sw, t: TierName) => `${fmt((100 * (r.tiers[t].p50 - rr.tiers[t].p50)) / rr.tiers[t].p50, 0)}%`;
    console.log(
      `\nswitchyard vs round-robin: goodput ${fmt(sw.goodput / rr.goodput, 2)}x, TTFT p50 realtime ${p50(sw, 'realtime')}, internal ${p50(sw, 'internal')}, cache hit ${fmt(100 * sw.cacheHitRate, 1)}% vs ${fmt(100 * rr.cacheHitRate, 1)}%, GPU cost ${fmt((100 * (sw.cost - rr.cost)) / rr.cost, 0)}%`,
    );
  }
  if (sw && pa) {
    console.log(
      `switchyard vs prefix-affinity: TTFT p99 realtime ${fmt(sw.tiers.realtime.p99, 0)} vs ${fmt(pa.tiers.realtime.p99, 0)} ms, internal ${fmt(sw.tiers.internal.p99, 0)} vs ${fmt(pa.tiers.internal.p99, 0)} ms`,
    );
  }
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('./results/prefix.json', import.meta.url),
    JSON.stringify({ at: new Date().toISOString(), simSeconds: SIM_S, speed: SPEED, load: LOAD, capacity, results }, null, 2),
  );
  process.exit(0);
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

/**
 * `pnpm bench:scheduling`: replays the Azure LLM conversation trace against a mixed simulated
 * fleet once per placement policy and prints, per policy, goodput (requests that met their
 * tier's SLO per simulated second), SLO attainment and p50/p99 TTFT per tier, GPU-hours and
 * GPU cost. The trace is time-scaled so the fleet's peak load is ~80% of its capacity
 * (capacity from the simulator's performance model); tiers are drawn 60/30/10. Admission and
 * billing are left out: requests go straight onto REQUESTS and outcomes are read back from
 * LIFECYCLE and USAGE, so the numbers are the scheduler's (plus batcher and GPUs).
 *
 *   pnpm bench:scheduling [--seconds 60] [--speed 2] [--load 0.8] [--policies switchyard,round-robin]
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { TierName } from '@switchyard/contracts';
import { POLICIES, loadStepModels, resolveModel, type PolicyName, type Route, type StepModel } from '@switchyard/scheduler';
import { parseTrace } from '@switchyard/cli';
import {
  TIER_NAMES,
  gpuPool as pool,
  mulberry32,
  printTable,
  report,
  runPolicy,
  type FleetRun,
  type GpuPool,
  type Outcome,
  type Planned,
} from './lib/fleet-run.js';
import { fmt } from './lib/stats.js';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' }, // simulated seconds of trace replayed per policy
    speed: { type: 'string', default: '2' }, // simulated time per real time
    load: { type: 'string', default: '0.8' }, // peak load as a share of fleet capacity
    policies: { type: 'string', default: POLICIES.join(',') },
    trace: { type: 'string', default: new URL('./traces/AzureLLMInferenceTrace_conv.csv', import.meta.url).pathname },
    seed: { type: 'string', default: '7' },
    detail: { type: 'boolean', default: false }, // per pool: requests, realtime misses, GPU cost
  },
});
const SIM_S = Number(opts.seconds);
const SPEED = Number(opts.speed);
const LOAD = Number(opts.load);
const POLICY_LIST = opts.policies!.split(',') as PolicyName[];

/** Two providers, four regions, H100 and H200, 8B and 1B, on-demand / reserved / spot. */
const FLEET: GpuPool[] = [
  pool({
    id: 'aws-useast1-h100-8b',
    provider: 'aws',
    region: 'us-east-1',
    gpu: 'h100-80gb',
    model: 'llama-3.1-8b',
    workers: 2,
    capacityClass: 'on-demand',
    pricePerGpuHour: 4.1,
    slotsPerWorker: 32,
  }),
  pool({
    id: 'gcp-uscentral1-h200-8b',
    provider: 'gcp',
    region: 'us-central1',
    gpu: 'h200-141gb',
    model: 'llama-3.1-8b',
    workers: 1,
    capacityClass: 'reserved',
    pricePerGpuHour: 3.2,
    slotsPerWorker: 48,
  }),
  pool({
    id: 'aws-euwest1-h100-8b',
    provider: 'aws',
    region: 'eu-west-1',
    gpu: 'h100-80gb',
    model: 'llama-3.1-8b',
    workers: 1,
    capacityClass: 'spot',
    pricePerGpuHour: 1.6,
    slotsPerWorker: 16,
  }),
  pool({
    id: 'gcp-euwest4-h200-8b',
    provider: 'gcp',
    region: 'europe-west4',
    gpu: 'h200-141gb',
    model: 'llama-3.1-8b',
    workers: 1,
    capacityClass: 'on-demand',
    pricePerGpuHour: 5.5,
    slotsPerWorker: 24,
  }),
  pool({
    id: 'aws-useast1-h100-1b',
    provider: 'aws',
    region: 'us-east-1',
    gpu: 'h100-80gb',
    model: 'llama-3.2-1b',
    workers: 1,
    capacityClass: 'on-demand',
    pricePerGpuHour: 4.1,
    slotsPerWorker: 64,
  }),
  pool({
    id: 'gcp-euwest4-h100-1b',
    provider: 'gcp',
    region: 'europe-west4',
    gpu: 'h100-80gb',
    model: 'llama-3.2-1b',
    workers: 1,
    capacityClass: 'spot',
    pricePerGpuHour: 1.6,
    slotsPerWorker: 16,
  }),
];
const ROUTES: Record<string, Route> = {
  'chat-large': { versions: [{ version: 'llama-3.1-8b', weight: 1 }] },
  'chat-small': { versions: [{ version: 'llama-3.2-1b', weight: 1 }] },
  auto: { versions: [], auto: { small: 'chat-small', large: 'chat-large', maxSmallPromptTokens: 512, maxSmallOutputTokens: 256 } },
};
/** Tier SLOs in simulated ms: realtime and internal by time to first token, batch by finishing in its window. */
const SLO = { realtime: 1_000, internal: 5_000, batch: 300_000 } as const;
const DEADLINE = { realtime: 10_000, internal: 60_000, batch: 300_000 } as const;
const RUN: FleetRun = { fleet: FLEET, routes: ROUTES, slo: SLO, deadline: DEADLINE, speed: SPEED };

/** Trace rows (seconds from the first row), the busiest stretch centred, scaled to the fleet. */
function plan(models: ReadonlyMap<string, StepModel>) {
  // Seconds from the first row; the CLI's `load --trace` reads traces with the same parser.
  const at = parseTrace(readFileSync(opts.trace!, 'utf8')).rows.map((r) => ({ t: r.atMs / 1000, prompt: r.inputTokens, output: r.outputTokens }));
  // Peak: the busiest 30 s of the trace.
  let peakStart = 0;
  let peakCount = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i]!.t - at[j]!.t > 30) j++;
    if (i - j + 1 > peakCount) [peakCount, peakStart] = [i - j + 1, at[j]!.t];
  }
  const random = mulberry32(Number(opts.seed));
  const draw = (o: Omit<Planned, 'tier' | 'model' | 'simAtMs' | 'id'>, i: number, simAtMs: number): Planned => {
    const u = random();
    const v = random();
    const tier: TierName = u < 0.6 ? 'realtime' : u < 0.9 ? 'internal' : 'batch';
    return { id: `bench-${i}`, simAtMs, tier, model: v < 0.4 ? 'chat-large' : v < 0.6 ? 'chat-small' : 'auto', ...o };
  };
  // Capacity: what each model's pools finish per second at full batches, for this request mix.
  const sample = at.map((r, i) => draw({ prompt: Math.min(r.prompt, 8_000), output: Math.min(r.output, 1_000) }, i, 0));
  const routes = new Map(Object.entries(ROUTES));
  const version = (p: Planned) => {
    const v = resolveModel(p.model, { promptTokens: p.prompt, maxTokens: p.output, tier: p.tier }, routes, 0);
    return v.kind === 'version' ? v.version : '';
  };
  const capacityOf = (mix: readonly Planned[]) => {
    const byModel = new Map<string, Planned[]>();
    for (const p of mix) byModel.set(version(p), [...(byModel.get(version(p)) ?? []), p]);
    let capacity = Infinity;
    const perModel: string[] = [];
    for (const [model, ps] of byModel) {
      const prompt = ps.reduce((a, p) => a + p.prompt, 0) / ps.length;
      const output = ps.reduce((a, p) => a + p.output, 0) / ps.length;
      const perSecond = FLEET.filter((p) => p.model === model).reduce((sum, p) => {
        const m = models.get(p.id)!;
        const perRequestMs = (output * m.decodeMs(p.slotsPerWorker, prompt + output / 2)) / p.slotsPerWorker + m.prefillMs(prompt);
        return sum + (p.workers * 1_000) / perRequestMs;
      }, 0);
      capacity = Math.min(capacity, perSecond / (ps.length / mix.length));
      perModel.push(
        `${model} ${fmt(perSecond)} req/s for ${fmt((100 * ps.length) / mix.length, 0)}% of requests, mean ${fmt(prompt, 0)} in / ${fmt(output, 0)} out`,
      );
    }
    return { capacity, perModel };
  };
  const peakRate = peakCount / 30;
  // Scale on the whole trace's mix, then again on the window's own (the window moves with the scale).
  let { capacity, perModel } = capacityOf(sample);
  let k = 0;
  let from = 0;
  let requests: Planned[] = [];
  for (let pass = 0; pass < 3; pass++) {
    k = (LOAD * capacity) / peakRate; // trace seconds per simulated second
    const span = SIM_S * k;
    from = Math.max(0, Math.min(peakStart + 15 - span / 2, at.at(-1)!.t - span));
    requests = at.flatMap((r, i) => (r.t >= from && r.t < from + span ? [{ ...sample[i]!, id: `bench-${i}`, simAtMs: ((r.t - from) / k) * 1_000 }] : []));
    ({ capacity, perModel } = capacityOf(requests));
  }
  return { requests, capacity, perModel, k, from, peakRate };
}

/**
 * Per pool: requests served, realtime ones over their SLO, GPU-hours and cost; then the first
 * realtime requests over their SLO, with what the scheduler predicted for them.
 */
function detail(requests: readonly Planned[], outcomes: ReadonlyMap<string, Outcome>, why: ReadonlyMap<string, string>): string {
  const pools = FLEET.map((p) => {
    const mine = requests.filter((r) => outcomes.get(r.id)?.pool === p.id);
    const late = mine.filter((r) => r.tier === 'realtime' && outcomes.get(r.id)!.ttftMs! > SLO.realtime);
    const gpuMs = mine.reduce((a, r) => a + (outcomes.get(r.id)!.gpuMs ?? 0), 0);
    return `    ${p.id.padEnd(24)} ${String(mine.length).padStart(5)} requests, ${String(late.length).padStart(3)} realtime late, ${fmt(gpuMs / 3.6e6, 3)} GPU-h, $${fmt((gpuMs / 3.6e6) * p.pricePerGpuHour, 3)}`;
  });
  const late = requests.filter((r) => r.tier === 'realtime' && (outcomes.get(r.id)?.ttftMs ?? 0) > SLO.realtime).slice(0, 10);
  const reasons = late.map(
    (r) =>
      `    late: ${r.id} at ${fmt(r.simAtMs / 1000)} s, ${r.prompt} in / ${r.output} out on ${outcomes.get(r.id)!.pool}: ttft ${fmt(outcomes.get(r.id)!.ttftMs!, 0)} ms; ${why.get(r.id)}`,
  );
  return [...pools, ...reasons].join('\n');
}

async function main() {
  const models = await loadStepModels(FLEET);
  const { requests, capacity, perModel, k, from, peakRate } = plan(models);
  const gpus = FLEET.reduce((a, p) => a + p.workers, 0);
  console.log(`fleet: ${FLEET.length} pools, ${gpus} GPUs (${FLEET.map((p) => `${p.id} x${p.workers}`).join(', ')})`);
  console.log(`capacity (perf model, full batches): ${fmt(capacity)} req/s simulated (${perModel.join('; ')})`);
  const provisionedCost = FLEET.reduce((a, p) => a + p.workers * p.pricePerGpuHour, 0) * (SIM_S / 3_600);
  console.log(
    `provisioned (the same for every policy): ${fmt((gpus * SIM_S) / 3_600, 3)} GPU-h, $${fmt(provisionedCost, 3)}; GPU-h and cost below are the GPU time the requests used (usage gpu_ms, as billing attributes it) at each pool's price`,
  );
  console.log(
    `trace: ${requests.length} requests from t=${fmt(from, 0)} s, compressed ${fmt(k, 2)}x: peak ${fmt(peakRate * k)} req/s = ${fmt(LOAD * 100, 0)}% of capacity; ${SIM_S} s simulated at speed ${SPEED} (${fmt(SIM_S / SPEED, 0)} s real per policy)`,
  );
  const results = [];
  for (const policy of POLICY_LIST) {
    const t = Date.now();
    const { outcomes, lagMs, why } = await runPolicy(RUN, policy, requests, models, opts.detail);
    results.push(report(RUN, SIM_S, policy, requests, outcomes));
    if (opts.detail) console.log(detail(requests, outcomes, why));
    console.log(`  ${policy}: done in ${fmt((Date.now() - t) / 1000, 0)} s (replay lag ${fmt(lagMs, 0)} ms)`);
  }
  console.log(
    `\nper policy (simulated time; TTFT in ms; SLO: realtime TTFT <= ${SLO.realtime} ms, internal <= ${SLO.internal} ms, batch done in ${SLO.batch / 1000} s):`,
  );
  printTable(results, TIER_NAMES, false);
  const sw = results.find((r) => r.policy === 'switchyard');
  const rr = results.find((r) => r.policy === 'round-robin');
  if (sw && rr) {
    console.log(
      `\nswitchyard vs round-robin: realtime goodput ${fmt(sw.realtimeGoodput / rr.realtimeGoodput, 2)}x, total goodput ${fmt(sw.goodput / rr.goodput, 2)}x, GPU cost ${fmt((100 * (sw.cost - rr.cost)) / rr.cost, 0)}%`,
    );
  }
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('./results/scheduling.json', import.meta.url),
    JSON.stringify({ at: new Date().toISOString(), simSeconds: SIM_S, speed: SPEED, load: LOAD, capacity, results }, null, 2),
  );
  process.exit(0);
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

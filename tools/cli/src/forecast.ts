import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { connectBus } from '@switchyard/bus';
import { loadPoolsFile, poolKind } from '@switchyard/config';
import { DEFAULT_TENANT_IN_FLIGHT, parseTierCounts, type TierName } from '@switchyard/contracts';
import { createPerfModel, loadProfiles, type PerfModel } from '@switchyard/perf-model';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { loadSchedulingFile, poolVersion } from '@switchyard/scheduler';
import { forecast, simulatedPools } from './domain/forecast/forecast.js';
import { DEFAULT_TIER_MIX, parseTierMix } from './domain/tier-mix.js';
import { replayWindow } from './domain/replay-window.js';
import { parseTrace, TraceError, type TraceRow } from './domain/trace-format.js';
import { windowTrace } from './domain/window-trace.js';
import { formatForecast } from './forecast-report.js';
import { REPO_ROOT } from './stack.js';
import { readRecordedWindow } from './window-read.js';
import { aboveZero as positive, wholeAtLeastOne as whole } from './cli-arguments.js';

interface ForecastFlags {
  trace?: string;
  window?: string;
  since?: string;
  until?: string;
  natsUrl?: string;
  scale: number[];
  /** Default: the window's span, or 300 s of a trace. */
  duration?: number;
  tierMix?: string;
  tenants: number;
  feature: string;
  /** Default: the window's most requested model, or llama-3.1-8b for a trace. */
  model?: string;
  seed: number;
  pools?: string;
  target: number;
  maxExtra: number;
  maxSimulations: number;
  maxPromptTokens: number;
  maxOutputTokens: number;
  /** Admission's TENANT_IN_FLIGHT, over its defaults. */
  tenantInFlight?: Partial<Record<TierName, number>>;
  json?: string;
}

const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
const DEFAULT_MODEL = 'llama-3.1-8b';
const DEFAULT_DURATION_S = 300;

const tierCounts = (value: string) => {
  try {
    return parseTierCounts(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const fraction = (value: string) => {
  const n = Number(value);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError('expected a fraction above 0 and at most 1, e.g. 0.99');
  return n;
};
const scales = (value: string) => {
  const list = value.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !(n > 0) || !Number.isFinite(n))) throw new InvalidArgumentError('expected multipliers above 0, e.g. 1,2,5');
  return list;
};

/** Where the forecast's requests come from: a trace file or a recorded window of the streams. */
interface ForecastSource {
  readonly rows: readonly TraceRow[];
  /** What the JSON names as the source. */
  readonly describe: Record<string, unknown>;
  /** The header's first line. */
  readonly title: string;
  readonly model: string;
  readonly durationS: number;
  readonly notes: readonly string[];
}

function traceSource(flags: ForecastFlags): ForecastSource {
  if (!flags.trace)
    throw new Error('pass --trace FILE (Azure CSV, Mooncake JSONL, or generic CSV/JSONL) or a recorded window: --window 1h, or --since and --until');
  let trace;
  try {
    trace = parseTrace(readFileSync(flags.trace, 'utf8'));
  } catch (e) {
    if (e instanceof TraceError) throw new Error(`${flags.trace}: ${e.message}`);
    throw new Error(`cannot read the trace ${flags.trace}: ${(e as Error).message}`);
  }
  return {
    rows: trace.rows,
    describe: { file: flags.trace, format: trace.format, rows: trace.rows.length },
    title: `trace ${flags.trace} (${trace.format})`,
    model: flags.model ?? DEFAULT_MODEL,
    durationS: flags.duration ?? DEFAULT_DURATION_S,
    notes: [],
  };
}

async function windowSource(flags: ForecastFlags, env: NodeJS.ProcessEnv): Promise<ForecastSource> {
  if (flags.trace) throw new Error('pass either --trace FILE or a recorded window (--window, --since/--until), not both');
  if (flags.window && flags.since) throw new Error('--window is the last span until now; for another window pass --since and --until instead');
  const nowMs = Date.now();
  const { sinceMs, untilMs } = replayWindow(flags.since ?? flags.window!, flags.until, nowMs);
  const natsUrl = flags.natsUrl ?? env.NATS_URL ?? DEFAULT_NATS_URL;
  const nc = await connectBus({ url: natsUrl, name: 'switchyard-forecast' }).catch((e: unknown) => {
    throw new Error(`cannot reach NATS at ${natsUrl} (set NATS_URL or pass --nats-url)`, { cause: e });
  });
  let recorded;
  try {
    recorded = await readRecordedWindow(nc, sinceMs, untilMs, nowMs);
  } finally {
    await nc.close();
  }
  const span = `${new Date(sinceMs).toISOString()} to ${new Date(untilMs).toISOString()}`;
  if (recorded.admitted.length === 0) throw new Error(`no requests were admitted between ${span}: nothing to forecast`);
  const window = windowTrace(recorded.admitted, recorded.outputTokens, sinceMs, flags.model);
  if (window.rows.length === 0) {
    throw new Error(`no request in the window asked for ${window.model}; it holds ${window.models.map(([m, n]) => `${m} (${n})`).join(', ')}`);
  }
  const others = window.models.filter(([m]) => m !== window.model);
  const notes = [
    `${window.measuredOutputs} of ${window.rows.length} requests with the output their usage recorded; the rest ask for their max_tokens`,
    ...(others.length ? [`left out, for other models: ${others.map(([m, n]) => `${m} (${n})`).join(', ')}`] : []),
  ];
  return {
    rows: window.rows,
    describe: { window: { since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString() }, rows: window.rows.length },
    title: `recorded window ${span}`,
    model: window.model,
    durationS: flags.duration ?? (untilMs - sinceMs) / 1_000,
    notes,
  };
}

/** `switchyard forecast --scale 1,2,5 --trace FILE | --window 1h`: read the requests, the pools and the profiles, simulate, print, write JSON. */
export async function forecastCommand(flags: ForecastFlags, env: NodeJS.ProcessEnv): Promise<void> {
  const source = flags.window || flags.since || flags.until ? await windowSource(flags, env) : traceSource(flags);
  const model = source.model;
  const poolsPath = flags.pools ?? env.POOLS_FILE ?? join(REPO_ROOT, 'deploy', 'pools.yaml');
  const allPools = loadPoolsFile(poolsPath);
  const scheduling = loadSchedulingFile(poolsPath);
  const pools = simulatedPools(allPools);
  const profiles = await loadProfiles();
  const perf = new Map<string, PerfModel>();
  for (const p of pools) perf.set(p.id, createPerfModel(profiles[p.gpu].rows, profiles[p.gpu].meta, p.model));
  const tenants = flags.tenants === 1 ? ['default'] : Array.from({ length: flags.tenants }, (_, i) => `tenant-${i + 1}`);
  const notes = [
    ...source.notes,
    ...allPools.filter((p) => !pools.includes(p)).map((p) => `pool ${p.id} (${poolKind(p)}) is left out: only simulated pools are simulated`),
  ];
  if (!DEFAULT_PRICE_BOOK.models[model])
    notes.push(`price book ${DEFAULT_PRICE_BOOK.version} has no price for "${model}" (a route name? pass a model version); bills show 0`);
  if (!pools.some((p) => poolVersion(p) === model)) notes.push(`no simulated pool serves "${model}", so all are rejected`);
  const started = Date.now();
  const result = forecast(
    {
      rows: source.rows,
      scales: flags.scale,
      pools,
      perf,
      scheduling,
      model,
      book: DEFAULT_PRICE_BOOK,
      durationS: source.durationS,
      tierMix: flags.tierMix ? parseTierMix(flags.tierMix) : DEFAULT_TIER_MIX,
      tenants,
      feature: flags.feature,
      seed: flags.seed,
      maxPromptTokens: flags.maxPromptTokens,
      maxOutputTokens: flags.maxOutputTokens,
      target: flags.target,
      maxExtra: flags.maxExtra,
      maxSimulations: flags.maxSimulations,
      inFlightPerTenant: { ...DEFAULT_TENANT_IN_FLIGHT, ...flags.tenantInFlight },
    },
    { progress: (line) => process.stderr.write(`${line} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`) },
  );
  console.log(formatForecast(result, { source: source.title, model, durationS: source.durationS, target: flags.target, notes }));
  if (flags.json) {
    const { trace: _trace, window: _window, since: _since, until: _until, natsUrl: _natsUrl, json: _json, ...options } = flags;
    writeFileSync(
      flags.json,
      `${JSON.stringify({ ...('window' in source.describe ? { source: source.describe } : { trace: source.describe }), pools: poolsPath, options: { ...options, model, duration: source.durationS }, priceBook: DEFAULT_PRICE_BOOK.version, scales: result }, null, 2)}\n`,
    );
    console.log(`forecast written to ${flags.json}`);
  }
}

export function registerForecastCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('forecast')
    .description(
      'replay a trace at several arrival rates against the simulated fleet of the pools file, in simulated time: per scale the bill per ' +
        'tenant and feature, $/1K tokens, GPU busy share and idle cost per pool, SLO attainment per tier, and the fewest extra GPUs per ' +
        'pool that meet the SLO target (README "Forecasts: the bill and the GPUs at 2x and 5x")',
    )
    .option('--trace <file>', 'Azure 2023 CSV, Mooncake JSONL, or generic CSV/JSONL (timestamp, input_tokens, output_tokens[, tenant, tier])')
    .option('--window <span>', 'replay the requests admitted in the last span (30m, 1h, 1d) as the streams recorded them, instead of a trace')
    .option('--since <time>', 'start of a recorded window: ISO time (UTC unless zoned) or a duration ago')
    .option('--until <time>', 'end of the recorded window --since starts; default now')
    .option('--nats-url <url>', 'NATS holding the streams, for a window; default $NATS_URL or the local one')
    .option('--scale <list>', 'arrival-rate multipliers: 2 sends twice as many requests per second', scales, [1, 2, 5])
    .option('--duration <s>', 'simulated seconds of arrivals per scale (default: the whole window, or 300 s of a trace)', positive)
    .option('--tier-mix <mix>', 'tiers drawn for rows without one, as weights', 'realtime=60,internal=30,batch=10')
    .option('--tenants <n>', "spread requests over N tenants (tenant-1..N) for the bill; a trace's own tenant column wins", whole, 1)
    .option('--feature <name>', 'feature the requests are billed under (traces carry none)', 'default')
    .option('-m, --model <name>', "model version the requests ask for (default: a window's most requested, else llama-3.1-8b)")
    .option('--seed <n>', 'seed of tier and tenant draws and of placement', whole, 1)
    .option('--pools <file>', 'pools file: the fleet, its prices and scheduling (default $POOLS_FILE, else deploy/pools.yaml)')
    .option('--target <fraction>', 'SLO attainment every tier must reach; scales short of it get a capacity plan', fraction, 0.99)
    .option('--max-extra <n>', 'most GPUs the capacity search adds per scale', whole, 64)
    .option('--max-simulations <n>', 'most simulations the capacity search runs per scale', whole, 200)
    .option('--max-prompt-tokens <n>', "admission's MAX_PROMPT_TOKENS: longer rows are skipped", whole, 32_768)
    .option('--max-output-tokens <n>', "admission's MAX_OUTPUT_TOKENS: longer outputs are clamped", whole, 4_096)
    .option(
      '--tenant-in-flight <limits>',
      "admission's TENANT_IN_FLIGHT times its replicas: calls one tenant runs at once per tier, the rest wait in admission " +
        `(default ${Object.entries(DEFAULT_TENANT_IN_FLIGHT)
          .map(([t, n]) => `${t}=${n}`)
          .join(',')})`,
      tierCounts,
    )
    .option('--json <file>', 'write every figure of every scale as JSON')
    .action((o: ForecastFlags) => forecastCommand(o, env));
}

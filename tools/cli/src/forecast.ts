import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadPoolsFile, poolKind } from '@switchyard/config';
import { createPerfModel, loadProfiles, type PerfModel } from '@switchyard/perf-model';
import { DEFAULT_PRICE_BOOK } from '@switchyard/pricing';
import { loadSchedulingFile, poolVersion } from '@switchyard/scheduler';
import { forecast, simulatedPools } from './domain/forecast/forecast.js';
import { DEFAULT_TIER_MIX, parseTierMix } from './domain/tier-mix.js';
import { parseTrace, TraceError } from './domain/trace-format.js';
import { formatForecast } from './forecast-report.js';
import { REPO_ROOT } from './stack.js';
import { aboveZero as positive, wholeAtLeastOne as whole } from './cli-arguments.js';

interface ForecastFlags {
  trace?: string;
  window?: string;
  scale: number[];
  duration: number;
  tierMix?: string;
  tenants: number;
  feature: string;
  model: string;
  seed: number;
  pools?: string;
  target: number;
  maxExtra: number;
  maxSimulations: number;
  maxPromptTokens: number;
  maxOutputTokens: number;
  json?: string;
}

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

/** `switchyard forecast --scale 1,2,5 --trace FILE`: read the trace, the pools and the profiles, simulate, print, write JSON. */
export async function forecastCommand(flags: ForecastFlags, env: NodeJS.ProcessEnv): Promise<void> {
  if (flags.window) throw new Error('--window (replaying a recorded window from the streams) is not built yet: record or export a trace and pass --trace FILE');
  if (!flags.trace) throw new Error('--trace FILE is required (Azure CSV, Mooncake JSONL, or generic CSV/JSONL)');
  let trace;
  try {
    trace = parseTrace(readFileSync(flags.trace, 'utf8'));
  } catch (e) {
    if (e instanceof TraceError) throw new Error(`${flags.trace}: ${e.message}`);
    throw new Error(`cannot read the trace ${flags.trace}: ${(e as Error).message}`);
  }
  const poolsPath = flags.pools ?? env.POOLS_FILE ?? join(REPO_ROOT, 'deploy', 'pools.yaml');
  const allPools = loadPoolsFile(poolsPath);
  const scheduling = loadSchedulingFile(poolsPath);
  const pools = simulatedPools(allPools);
  const profiles = await loadProfiles();
  const perf = new Map<string, PerfModel>();
  for (const p of pools) perf.set(p.id, createPerfModel(profiles[p.gpu].rows, profiles[p.gpu].meta, p.model));
  const tenants = flags.tenants === 1 ? ['default'] : Array.from({ length: flags.tenants }, (_, i) => `tenant-${i + 1}`);
  const notes = allPools.filter((p) => !pools.includes(p)).map((p) => `pool ${p.id} (${poolKind(p)}) is left out: only simulated pools are simulated`);
  if (!DEFAULT_PRICE_BOOK.models[flags.model])
    notes.push(`price book ${DEFAULT_PRICE_BOOK.version} has no price for "${flags.model}" (a route name? pass a model version); bills show 0`);
  if (!pools.some((p) => poolVersion(p) === flags.model)) notes.push(`no simulated pool serves "${flags.model}", so all are rejected`);
  const started = Date.now();
  const result = forecast(
    {
      rows: trace.rows,
      scales: flags.scale,
      pools,
      perf,
      scheduling,
      model: flags.model,
      book: DEFAULT_PRICE_BOOK,
      durationS: flags.duration,
      tierMix: flags.tierMix ? parseTierMix(flags.tierMix) : DEFAULT_TIER_MIX,
      tenants,
      feature: flags.feature,
      seed: flags.seed,
      maxPromptTokens: flags.maxPromptTokens,
      maxOutputTokens: flags.maxOutputTokens,
      target: flags.target,
      maxExtra: flags.maxExtra,
      maxSimulations: flags.maxSimulations,
    },
    { progress: (line) => process.stderr.write(`${line} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`) },
  );
  const header = { traceFile: flags.trace, format: trace.format, model: flags.model, durationS: flags.duration, target: flags.target, notes };
  console.log(formatForecast(result, header));
  if (flags.json) {
    const { trace: _trace, window: _window, json: _json, ...options } = flags;
    writeFileSync(
      flags.json,
      `${JSON.stringify({ trace: { file: flags.trace, format: trace.format, rows: trace.rows.length }, pools: poolsPath, options, priceBook: DEFAULT_PRICE_BOOK.version, scales: result }, null, 2)}\n`,
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
    .option('--window <span>', 'replay a recorded window of the streams instead of a trace (not built yet)')
    .option('--scale <list>', 'arrival-rate multipliers: 2 sends twice as many requests per second', scales, [1, 2, 5])
    .option('--duration <s>', 'simulated seconds of arrivals per scale', positive, 300)
    .option('--tier-mix <mix>', 'tiers drawn for rows without one, as weights', 'realtime=60,internal=30,batch=10')
    .option('--tenants <n>', "spread requests over N tenants (tenant-1..N) for the bill; a trace's own tenant column wins", whole, 1)
    .option('--feature <name>', 'feature the requests are billed under (traces carry none)', 'default')
    .option('-m, --model <name>', 'model version every request asks for', 'llama-3.1-8b')
    .option('--seed <n>', 'seed of tier and tenant draws and of placement', whole, 1)
    .option('--pools <file>', 'pools file: the fleet, its prices and scheduling (default $POOLS_FILE, else deploy/pools.yaml)')
    .option('--target <fraction>', 'SLO attainment every tier must reach; scales short of it get a capacity plan', fraction, 0.99)
    .option('--max-extra <n>', 'most GPUs the capacity search adds per scale', whole, 64)
    .option('--max-simulations <n>', 'most simulations the capacity search runs per scale', whole, 200)
    .option('--max-prompt-tokens <n>', "admission's MAX_PROMPT_TOKENS: longer rows are skipped", whole, 32_768)
    .option('--max-output-tokens <n>', "admission's MAX_OUTPUT_TOKENS: longer outputs are clamped", whole, 4_096)
    .option('--json <file>', 'write every figure of every scale as JSON')
    .action((o: ForecastFlags) => forecastCommand(o, env));
}

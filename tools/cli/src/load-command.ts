import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { defaultScheduling, loadSchedulingFile } from '@switchyard/scheduler';
import { DEFAULT_TIER_MIX, parseTierMix } from './domain/tier-mix.js';
import { parseTrace, TraceError } from './domain/trace-format.js';
import { findLocalEnv, readLocalEnv } from './local-env.js';
import { grpcCaller, httpCaller, type LoadCaller } from './load-callers.js';
import { formatLoadReport } from './load-report.js';
import { runLoad } from './load.js';
import { tlsOf } from './tls-target.js';
import { aboveZero as positive, wholeAtLeastOne as whole } from './cli-arguments.js';

interface LoadFlags {
  trace: string;
  http?: boolean;
  speed: number;
  duration?: number;
  tierMix?: string;
  tenants: number;
  keysFile?: string;
  model: string;
  seed: number;
  maxInFlight: number;
  maxPromptTokens: number;
  maxOutputTokens: number;
  timeoutMs: number;
  pools?: string;
  json?: string;
}

/**
 * API keys by tenant label: `tenant=key` or a bare key per line (`#` comments), else the one key
 * of the environment or `.switchyard/local.env`.
 */
function keysOf(flags: LoadFlags, env: NodeJS.ProcessEnv, local: Record<string, string | undefined>): [string, string][] {
  if (flags.keysFile) {
    const keys = readFileSync(flags.keysFile, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l, i): [string, string] => (l.includes('=') ? [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()] : [`key-${i + 1}`, l]));
    if (keys.length < flags.tenants) throw new Error(`--tenants ${flags.tenants} needs ${flags.tenants} API keys; ${flags.keysFile} has ${keys.length}`);
    return keys.slice(0, flags.tenants);
  }
  if (flags.tenants > 1) {
    throw new Error(
      `--tenants ${flags.tenants} needs ${flags.tenants} API keys and this setup has one: create them (\`switchyard key create --tenant NAME\`, ` +
        'an operator step) and list them in a file, one `tenant=key` a line, passed as --keys-file',
    );
  }
  const key = env.SWITCHYARD_API_KEY ?? local.SWITCHYARD_API_KEY;
  if (!key) throw new Error('no API key: run `pnpm start` first, set SWITCHYARD_API_KEY, or pass --keys-file');
  return [['default', key]];
}

/** `switchyard load --trace FILE`: parse flags and the trace, run, draw progress, print and write the result. */
export async function loadCommand(flags: LoadFlags, env: NodeJS.ProcessEnv): Promise<void> {
  let text: string;
  try {
    text = readFileSync(flags.trace, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the trace ${flags.trace}: ${(e as Error).message}`);
  }
  let trace;
  try {
    trace = parseTrace(text);
  } catch (e) {
    if (e instanceof TraceError) throw new Error(`${flags.trace}: ${e.message}`);
    throw e;
  }
  const file = findLocalEnv();
  const local: Record<string, string | undefined> = file ? readLocalEnv(file) : {};
  const keys = keysOf(flags, env, local);
  const now = () => Date.now();
  let makeCaller: (key: string) => LoadCaller;
  if (flags.http) {
    const url = env.SWITCHYARD_HTTP_URL ?? local.SWITCHYARD_HTTP_URL;
    if (!url) throw new Error('no HTTP endpoint: run `pnpm start` first or set SWITCHYARD_HTTP_URL (e.g. http://127.0.0.1:8080/v1)');
    makeCaller = (key) => httpCaller(url, key, now);
  } else {
    const address = env.SWITCHYARD_ADDR ?? local.SWITCHYARD_ADDR;
    if (!address) throw new Error('no admission address: run `pnpm start` first or set SWITCHYARD_ADDR');
    const tls = tlsOf(env);
    makeCaller = (key) => grpcCaller(address, key, now, tls);
  }
  const callers = Object.fromEntries(keys.map(([tenant, key]) => [tenant, makeCaller(key)]));
  const tiers = (flags.pools ? loadSchedulingFile(flags.pools) : defaultScheduling()).tiers;
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: 'replay [{bar}] {value}/{total} due | in flight {inFlight} | done {completed} rejected {rejected} failed {failed} dropped {dropped}',
      fps: 5,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  try {
    const result = await runLoad(
      {
        trace,
        traceFile: flags.trace,
        protocol: flags.http ? 'http' : 'grpc',
        model: flags.model,
        speed: flags.speed,
        durationS: flags.duration,
        tierMix: flags.tierMix ? parseTierMix(flags.tierMix) : DEFAULT_TIER_MIX,
        seed: flags.seed,
        maxInFlight: flags.maxInFlight,
        maxPromptTokens: flags.maxPromptTokens,
        maxOutputTokens: flags.maxOutputTokens,
        timeoutMs: flags.timeoutMs,
        sloTtftMs: { realtime: tiers.realtime.ttftMs, internal: tiers.internal.ttftMs, batch: tiers.batch.ttftMs },
      },
      {
        callers,
        now,
        sleep: (ms) => sleep(ms),
        onProgress: (p) => {
          const payload = { inFlight: p.inFlight, completed: p.completed, rejected: p.rejected, failed: p.failed, dropped: p.dropped };
          if (!started) {
            bar.start(p.total, 0, payload);
            started = true;
          }
          bar.update(p.sent + p.dropped, payload);
        },
      },
    );
    bar.stop();
    console.log(formatLoadReport(result));
    if (flags.json) {
      writeFileSync(flags.json, `${JSON.stringify(result, null, 2)}\n`);
      console.log(`result with ${result.records.length} per-request records written to ${flags.json}`);
    }
  } finally {
    if (started) bar.stop();
    for (const c of Object.values(callers)) c.close();
  }
}

export function registerLoadCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('load')
    .description(
      'replay a trace through admission with its arrival times, prompt and output lengths; per tier: TTFT and end-to-end ' +
        'p50/p95/p99, SLO attainment, goodput, rejections by reason, tokens and cost (README "Load tests from real traces")',
    )
    .requiredOption('--trace <file>', 'Azure 2023 CSV, Mooncake JSONL, or generic CSV/JSONL (timestamp, input_tokens, output_tokens[, tenant, tier])')
    .option('--http', 'call the OpenAI-compatible /v1/chat/completions (streamed) instead of gRPC Generate')
    .option('--speed <x>', 'trace time per wall time: 2 replays twice as fast', positive, 1)
    .option('--duration <s>', 'replay only the first S wall seconds of the trace (default: all of it)', positive)
    .option('--tier-mix <mix>', 'tiers drawn for rows without one, as weights', 'realtime=60,internal=30,batch=10')
    .option(
      '--tenants <n>',
      'spread requests over N tenants; N > 1 needs N API keys in --keys-file (keys are created by an operator: switchyard key create)',
      whole,
      1,
    )
    .option('--keys-file <file>', 'API keys, one `tenant=key` (or a bare key) a line; default the one key of SWITCHYARD_API_KEY / .switchyard/local.env')
    .option('-m, --model <name>', 'model every request asks for (a version is priced; a route name is not)', 'llama-3.1-8b')
    .option('--seed <n>', 'seed of tier and tenant draws and of prompt text', whole, 1)
    .option('--max-in-flight <n>', 'requests open at once; more are dropped by the load generator and counted', whole, 2_000)
    .option('--max-prompt-tokens <n>', "admission's MAX_PROMPT_TOKENS: longer rows are skipped and counted", whole, 32_768)
    .option('--max-output-tokens <n>', "admission's MAX_OUTPUT_TOKENS: longer outputs are clamped and counted", whole, 4_096)
    .option('--timeout-ms <ms>', "each request's deadline", whole, 600_000)
    .option('--pools <file>', "pools file whose scheduling.tiers set the TTFT objectives (default: the scheduler's defaults)")
    .option('--json <file>', 'write the whole result, per-request records included, as JSON')
    .action((o: LoadFlags) => loadCommand(o, env));
}

/**
 * Replay export benchmark: publishes N USAGE events to a private nats-server, then times
 * `switchyard replay --stream USAGE --format parquet` as its own process over a quarter of the
 * range and over all of it, sampling the exporter's resident memory, then over all of it again
 * with V8's old space capped (`--max-old-space-size`, default 96 MB): an export whose memory grew
 * with the range would die there. The process's RSS includes tsx compiling the CLI at start-up.
 *
 *   pnpm bench:replay [--events 400000] [--row-group 20000] [--heap-cap-mb 96]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { connectBus, jetstream, jetstreamManager, provisionStreams } from '@switchyard/bus';
import { encodeEvent, makeEvent, Outcome, streams, subjects, Tier } from '@switchyard/contracts';
import { startNats } from '@switchyard/testing';
import { rssMb } from './lib/process-memory.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '400000' },
    'row-group': { type: 'string', default: '20000' },
    'heap-cap-mb': { type: 'string', default: '96' },
  },
});
const N = Number(args.events);
const BIN = fileURLToPath(new URL('../tools/cli/bin/switchyard.js', import.meta.url));
const tiers = [Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH];
const outcomes = [Outcome.OUTCOME_COMPLETED, Outcome.OUTCOME_COMPLETED, Outcome.OUTCOME_COMPLETED, Outcome.OUTCOME_FAILED, Outcome.OUTCOME_CANCELLED];
const models = ['llama-3.2-1b', 'llama-3.1-8b', 'llama-3.1-70b-tp4'];

/**
 * CPU seconds (user + system) a process has used, from /proc (Linux, 100 ticks a second). On a
 * shared two-core machine, events per CPU-second moves less with the neighbours than wall time.
 */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** Runs one export in its own process; its peak RSS is sampled every 20 ms. */
async function exportRange(natsUrl: string, since: string, until: string, out: string, heapCapMb?: string) {
  const started = performance.now();
  const child = execFile(
    process.execPath,
    [BIN, 'replay', '--stream', 'USAGE', '--since', since, '--until', until, '--out', out, '--format', 'parquet', '--row-group', args['row-group']],
    {
      env: { ...process.env, NATS_URL: natsUrl, ...(heapCapMb ? { NODE_OPTIONS: `--max-old-space-size=${heapCapMb}` } : {}) },
    },
  );
  let peak = 0;
  let cpu = 0;
  const sampler = setInterval(() => {
    try {
      cpu = cpuSeconds(child.pid!);
      peak = Math.max(peak, rssMb(child.pid!));
    } catch {
      // The process has just exited.
    }
  }, 20);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`replay exited ${code}: ${stderr}`);
  const m = /replay: (\d+) USAGE rows .* in ([\d.]+) s \((\d+) events\/s\)/.exec(stderr);
  if (!m) throw new Error(`unexpected replay output: ${stderr}`);
  return {
    rows: Number(m[1]),
    exportSeconds: Number(m[2]),
    rate: Number(m[3]),
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: cpu,
    peakMb: peak,
    fileMb: statSync(out).size / 2 ** 20,
  };
}

async function main() {
  const nats = await startNats();
  const dir = mkdtempSync(join(tmpdir(), 'bench-replay-'));
  const nc = await connectBus({ url: nats.url, name: 'bench-replay' });
  try {
    await provisionStreams(await jetstreamManager(nc), [streams.USAGE]);
    const js = jetstream(nc);
    const start = new Date(Date.now() - 1_000).toISOString();
    let quarter = '';
    const t = performance.now();
    const WINDOW = 2_000;
    for (let i = 0; i < N; i += WINDOW) {
      const acks = [];
      for (let j = i; j < Math.min(N, i + WINDOW); j++) {
        const tenant = `tenant-${j % 50}`;
        const u = {
          usageId: `usage-${j}`,
          requestId: `req-${j}`,
          tenant,
          feature: ['chat', 'search', 'agent'][j % 3]!,
          model: models[j % 3]!,
          tier: tiers[j % 3]!,
          pool: `pool-${j % 4}`,
          workerId: `w${j % 16}`,
          usage: { inputTokens: 200 + (j % 900), cachedInputTokens: j % 100, outputTokens: 50 + (j % 400) },
          gpuMs: 80 + (j % 500) / 3,
          queueMs: j % 20,
          ttftMs: 30 + (j % 50),
          totalMs: 300 + (j % 700),
          outcome: outcomes[j % outcomes.length]!,
        };
        const event = makeEvent({ id: u.usageId, tenant, requestId: u.requestId, nowMs: Date.now() }, { $case: 'usageRecorded', usageRecorded: u });
        acks.push(js.publish(subjects.usageRecorded(tenant), encodeEvent(event)));
      }
      await Promise.all(acks);
      if (!quarter && i + WINDOW >= N / 4) quarter = new Date().toISOString();
    }
    const publishSeconds = (performance.now() - t) / 1000;
    const end = new Date(Date.now() + 1_000).toISOString();
    console.log(`replay bench: ${N} USAGE events published in ${publishSeconds.toFixed(1)} s; ${cpus().length} cores, row groups of ${args['row-group']} rows`);
    const cap = args['heap-cap-mb'];
    for (const [label, until, heapCap] of [
      ['first quarter', quarter, undefined],
      ['whole range', end, undefined],
      [`whole, ${cap} MB heap`, end, cap],
    ] as const) {
      const r = await exportRange(nats.url, start, until, join(dir, `${label.replace(/\W+/g, '-')}.parquet`), heapCap);
      console.log(
        `  ${label.padEnd(20)} ${String(r.rows).padStart(7)} rows -> Parquet: ${r.rate.toLocaleString('en')} events/s (export ${r.exportSeconds.toFixed(2)} s, process ${r.wallSeconds.toFixed(2)} s with start-up, ${r.cpuSeconds.toFixed(1)} CPU-s), peak RSS ${r.peakMb.toFixed(0)} MB, file ${r.fileMb.toFixed(1)} MB`,
      );
    }
  } finally {
    await nc.close();
    await nats.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

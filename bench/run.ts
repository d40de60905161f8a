/**
 * `pnpm bench`: Switchyard's performance figures on this machine, in one run, with the load
 * generator, NATS, Redis, Postgres and every service sharing the cores. Prints one table
 * and writes bench/results/<date>.json. Targets come from issue #9.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { connectBus, jetstreamManager } from '@switchyard/bus';
import { Tier } from '@switchyard/sdk';
import { REPO_ROOT, SERVICES } from '@switchyard/cli';
import { startBenchStack } from './lib/bench-stack.js';
import { closedLoop, failures, paced, ramp, type Shot } from './lib/load.js';
import { calibrate } from './lib/calibration.js';
import { startMockOpenAi } from './lib/mock-openai.js';
import { startPortkey } from './lib/portkey.js';
import { fmt, summarize } from './lib/stats.js';
import { rssMb } from './lib/process-memory.js';

const quick = process.argv.includes('--quick');
/** Only start-up and saturation: for profiling runs (SWITCHYARD_PROFILE=admission,...). */
const saturationOnly = process.argv.includes('--saturation-only');
/** Only start-up and the paced stages: for latency work. */
const overheadOnly = process.argv.includes('--overhead-only');
const STAGE_S = quick ? 3 : 10;
const PACED_S = quick ? 5 : 10;
const log = (line: string) => console.log(line);
/** /proc/<pid>/stat fields after the command name (field 3 onwards). */
const statFields = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
/**
 * User + system CPU seconds each of `pids` and its children have used so far: the live
 * children (Postgres's backends), and those that exited and were waited for (cutime, cstime).
 * One pass over /proc serves every pid.
 */
const cpuSeconds = (pids: readonly number[]): number[] => {
  const ticks = new Map(
    pids.map((pid) => {
      const f = statFields(pid);
      return [pid, Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])];
    }),
  );
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const f = statFields(Number(entry));
      const parent = Number(f[1]);
      if (ticks.has(parent)) ticks.set(parent, ticks.get(parent)! + Number(f[11]) + Number(f[12]));
    } catch {
      // The process exited between listing /proc and reading it: its time is in its parent's cutime.
    }
  }
  return pids.map((pid) => ticks.get(pid)! / 100);
};

async function main() {
  log('starting private nats-server, redis-server, postgres and every service ...');
  // (7) start-up: every service spawned -> first request served end to end.
  const bench = await startBenchStack((name, code) => log(`!! ${name} exited (${code})`));
  const { stack, nats, redis, pg, startupS } = bench;
  log(`start-up to first served request: ${fmt(startupS)} s`);
  // This VM's speed changes from day to day; these say how fast it is in this run.
  const machine = await calibrate(nats.url, quick);
  log(
    `machine: bare grpc-js unary ${fmt(machine.grpcUnaryPerSecond, 0)} req/s, JetStream publishes with acks ${fmt(machine.jetstreamPublishesPerSecond, 0)}/s`,
  );
  /** Everything the run opened, closed in reverse; `extra` are connections opened later. */
  const tearDown = async (...extra: Array<() => Promise<unknown>>) => {
    await Promise.all(extra.map((close) => close()));
    await bench.close();
  };
  // Saturation runs on the internal tier: it queues under overload where realtime is (rightly)
  // shed. Overhead is measured on realtime, the tier whose users wait for the first token.
  const generate = bench.generate(Tier.TIER_INTERNAL);
  const generateRealtime = bench.generate(Tier.TIER_REALTIME);
  await closedLoop(generate, 8, 2); // warm-up
  if (overheadOnly) {
    // The JIT warms up as the saturation stage would have warmed it: paced figures of a cold
    // process measure V8's tier-up, not Switchyard.
    await closedLoop(generate, 64, STAGE_S * 2);
    const pidsNow = SERVICES.map((name) => [name, stack.children.get(name)!.pid!] as const);
    for (const rate of [50, 200, 400]) {
      const before = cpuSeconds(pidsNow.map(([, pid]) => pid));
      const run = await paced(generateRealtime, rate, PACED_S);
      const after = cpuSeconds(pidsNow.map(([, pid]) => pid));
      const cpu = pidsNow.map(([name], i) => `${name} ${fmt(((after[i]! - before[i]!) * 1e6) / run.latencies.length, 0)}`).join(', ');
      const s = summarize(run.latencies);
      log(
        `send to first token, realtime, ${rate} req/s: p50 ${fmt(s.p50, 2)} ms, p99 ${fmt(s.p99, 2)} ms (${run.failed} failed${failures(run.errors)}); CPU us/request ${cpu}`,
      );
    }
    await tearDown();
    return;
  }

  // (1) saturation
  log('saturation (closed loop, streamed, billed):');
  const servers: Array<[string, number | undefined]> = [
    ['nats-server', nats.process?.pid],
    ['redis-server', redis.process?.pid],
    ['postgres', pg.process?.pid],
  ];
  const pids: Array<readonly [string, number]> = [
    ...SERVICES.map((name) => [name, stack.children.get(name)!.pid!] as const),
    ...servers.flatMap(([name, pid]) => (pid ? [[name, pid] as const] : [])),
  ];
  const cpuBefore = cpuSeconds(pids.map(([, pid]) => pid));
  const msgsBefore = await bench.natsMessages();
  const selfBefore = process.cpuUsage();
  const steps = await ramp(generate, quick ? [32, 64, 128] : [32, 64, 128, 256, 512], STAGE_S, log);
  const peak = Math.max(...steps.map((s) => s.perSecond));
  const requests = steps.reduce((a, s) => a + s.completed, 0);
  const self = process.cpuUsage(selfBefore);
  const cpuPerRequest = Object.fromEntries([
    ...cpuSeconds(pids.map(([, pid]) => pid)).map((seconds, i) => [pids[i]![0], ((seconds - cpuBefore[i]!) * 1e6) / requests]),
    ['load generator', (self.user + self.system) / requests],
  ]);
  const msgsAfter = await bench.natsMessages();
  const natsPerRequest = { in: (msgsAfter.in - msgsBefore.in) / requests, out: (msgsAfter.out - msgsBefore.out) / requests };
  log(`NATS messages per completed request: ${fmt(natsPerRequest.in, 1)} in, ${fmt(natsPerRequest.out, 1)} out`);
  log(
    `CPU microseconds per completed request: ${Object.entries(cpuPerRequest)
      .map(([k, v]) => `${k} ${fmt(v as number, 0)}`)
      .join(', ')}`,
  );

  // every completed request billed exactly once
  const nc = await connectBus({ url: nats.url, name: 'bench' });
  const jsm = await jetstreamManager(nc);
  const completed = (await jsm.streams.info('LIFECYCLE', { subjects_filter: 'requests.completed.>' })).state.subjects?.['requests.completed.bench'] ?? 0;
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  const billedAt = performance.now();
  let billed = 0;
  let duplicates = 0;
  while (performance.now() - billedAt < 120_000) {
    // Completions only (`usage-<request id>`): unfinished attempts have usage ids of their own.
    const [row] = await sql<{ n: string; d: string }[]>`SELECT count(*) AS n, count(*) - count(DISTINCT request_id) AS d FROM ledger_transactions
       WHERE tenant = 'bench' AND kind = 'usage' AND usage_id = 'usage-' || request_id`;
    billed = Number(row!.n);
    duplicates = Number(row!.d);
    if (billed >= completed) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const billingLagS = (performance.now() - billedAt) / 1000;
  log(`completed ${completed}, billed ${billed} (${duplicates} duplicates), billing caught up ${fmt(billingLagS)} s after the run`);
  // (6) resident memory of every service right after the saturation run
  const memory = Object.fromEntries(SERVICES.map((name) => [name, rssMb(stack.children.get(name)!.pid!)]));
  log(`resident MB after saturation: ${SERVICES.map((s) => `${s} ${fmt(memory[s]!, 0)}`).join(', ')}`);

  if (saturationOnly) {
    await tearDown(
      () => nc.close(),
      () => sql.end(),
    );
    return;
  }

  // (2) control-plane overhead at a paced 400 req/s; workers do not sleep, so TTFT is all overhead
  log('control-plane overhead at 50 and 400 req/s (realtime) ...');
  const lightRun = await paced(generateRealtime, 50, PACED_S);
  const light = summarize(lightRun.latencies);
  const overhead = await paced(generateRealtime, 400, PACED_S);
  const ov = summarize(overhead.latencies);
  log(`  50 req/s: ${lightRun.failed} failed${failures(lightRun.errors)}; 400 req/s: ${overhead.failed} failed${failures(overhead.errors)}`);

  // (3) the same paced load through the Portkey gateway in front of a mock OpenAI server
  log('Portkey gateway at 400 req/s and at saturation ...');
  const mock = await startMockOpenAi();
  const portkey = await startPortkey();
  const body = JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: 'benchmark prompt of a few words' }] });
  const viaPortkey: Shot = async () => {
    const t = performance.now();
    const res = await fetch(`${portkey.url}/chat/completions`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-mock', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': mock.url },
    });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`portkey ${res.status}`);
    return performance.now() - t;
  };
  const direct: Shot = async () => {
    const t = performance.now();
    const res = await fetch(`${mock.url}/chat/completions`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await res.arrayBuffer();
    return performance.now() - t;
  };
  await closedLoop(viaPortkey, 8, 2);
  const pkPaced = summarize((await paced(viaPortkey, 400, PACED_S)).latencies);
  const mockPaced = summarize((await paced(direct, 400, PACED_S)).latencies);
  const pkSteps = await ramp(viaPortkey, [32, 64, 128], STAGE_S, (l) => log(`  portkey${l}`));
  const pkPeak = Math.max(...pkSteps.map((s) => s.perSecond));
  portkey.stop();
  await mock.close();

  // (4) ledger posting rate and (5) placement time come from their own scripts
  const side = (script: string, headline: RegExp) =>
    existsSync(join(REPO_ROOT, 'bench', script)) ? runScript(script, headline) : 'not measured (script missing)';
  const ledger = side('ledger.ts', /usage events\/s/).replace(/^.*?: /, '');
  const placement = side('placement.ts', /1,?000 pools/);

  await tearDown(
    () => nc.close(),
    () => sql.end(),
  );

  const rows: [string, string, string, boolean | undefined][] = [
    ['end-to-end completed req/s (streamed, billed)', fmt(peak, 0), '>= 1500 and >= 2.3x Portkey', peak >= 1500 && peak >= 2.3 * pkPeak],
    ['  Portkey bare-proxy ceiling req/s', fmt(pkPeak, 0), '', undefined],
    ['  ratio Switchyard / Portkey', fmt(peak / pkPeak, 2), '>= 2.3', peak / pkPeak >= 2.3],
    ['  billed exactly once (completed = billed, 0 dup)', `${completed} = ${billed}, ${duplicates} dup`, 'equal, 0', completed === billed && duplicates === 0],
    ['control-plane overhead p50 @400/s, ms', fmt(ov.p50, 2), '<= 2.5', ov.p50 <= 2.5],
    ['control-plane overhead p99 @400/s, ms', fmt(ov.p99, 2), '<= 15', ov.p99 <= 15],
    ['  at light load, 50/s: p50 / p99, ms', `${fmt(light.p50, 2)} / ${fmt(light.p99, 2)}`, '', undefined],
    ['  Portkey added latency p50 @400/s, ms', fmt(pkPaced.p50 - mockPaced.p50, 2), '', undefined],
    ['  Portkey added latency p99 @400/s, ms', fmt(pkPaced.p99 - mockPaced.p99, 2), '', undefined],
    ['ledger posting', ledger, '>= 10000 events/s', undefined],
    ['placement decision', placement, '<= 50 us @1000 pools', undefined],
    ...SERVICES.map((s): [string, string, string, boolean] => [`RSS ${s}, MB`, fmt(memory[s]!, 0), '<= 200', memory[s]! <= 200]),
    ['start-up to first served request, s', fmt(startupS), '<= 15', startupS <= 15],
    ['machine: bare grpc-js unary req/s', fmt(machine.grpcUnaryPerSecond, 0), '(issue #9 saw 3-4k)', undefined],
    ['machine: JetStream publishes with acks/s', fmt(machine.jetstreamPublishesPerSecond, 0), '(issue #9 saw ~24k)', undefined],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  log(`\n${'figure'.padEnd(width)}  ${'measured'.padStart(22)}  target`);
  for (const [name, value, target, ok] of rows)
    log(`${name.padEnd(width)}  ${value.padStart(22)}  ${target}${ok === undefined ? '' : ok ? '  ok' : '  MISSED'}`);

  mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  const file = join(REPO_ROOT, 'bench', 'results', `${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        quick,
        steps,
        peak,
        portkey: { steps: pkSteps, peak: pkPeak, paced: pkPaced, mock: mockPaced },
        overhead: ov,
        overheadLight: light,
        cpuPerRequest,
        natsPerRequest,
        billed: { completed, billed, duplicates, billingLagS },
        memory,
        startupS,
        ledger,
        placement,
        machine,
      },
      null,
      2,
    ),
  );
  log(`\nwritten ${file}`);
}

/** Runs a side benchmark and returns its headline: the first line matching `headline`. */
function runScript(script: string, headline: RegExp): string {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join('bench', script)], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  const failed = out.split('\n').filter((l) => /\bFAIL\b/.test(l));
  const line =
    out
      .split('\n')
      .find((l) => headline.test(l))
      ?.trim() ?? 'no figure printed';
  return failed.length ? `${line} (${failed.length} checks FAILED)` : line;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * Soak (issue #23, scenario 12): the whole stack as `switchyard up` runs it, on private NATS
 * (file storage), Redis and Postgres, under a moderate streaming load for `--minutes`, with a
 * fault every `--fault-every` seconds taken in turn from the chaos scenarios: kill -9 of a
 * service (each in turn; the supervisor restarts it), of nats-server, of redis-server and of
 * PostgreSQL (each back after 2 s on its data). Prints every fault, each service's resident
 * memory from the end of warm-up to the end of its longest-lived process (the high-water marks
 * of the span's two halves, memory-growth.ts) and beside it its live heap (V8's heap after each full
 * collection, from its /metrics), and at the end the
 * invariants: every admitted request ended exactly once, every completion billed once, and
 * reconcile's differences, with the path of any request that did not end exactly once. Exits 1
 * when an invariant fails or a service's resident memory or live heap grew 10% or more.
 *
 *   pnpm soak [--minutes 30] [--fault-every 60] [--callers 6] [--warmup 5]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { hashApiKey } from '@switchyard/auth';
import { connectBus, jetstreamManager } from '@switchyard/bus';
import { firstServedRequest, privateStackEnv, REPO_ROOT, SERVICES, startStack, type ServiceName } from '@switchyard/cli';
import { Tier } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { startNats, startPostgres, startRedis, type TestServer } from '@switchyard/testing';
import postgres from 'postgres';
import { checkRequestInvariants } from '../test/support/request-invariants.js';
import { heldMessages, terminalsByRequest, trailsOf, wallClockTrail, type HeldMessage } from '../test/support/read-stream.js';
import { memoryGrowth, type MemorySample } from './lib/memory-growth.js';
import { liveHeapMbOf, metricsPortOf, rssMb } from './lib/process-memory.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'fault-every': { type: 'string', default: '60' },
    callers: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '5' },
  },
});
const RUN_MS = Number(args.minutes) * 60_000;
const FAULT_MS = Number(args['fault-every']) * 1_000;
const WARMUP_MS = Math.min(Number(args.warmup) * 60_000, RUN_MS / 3);
const KEY = 'sy_soak_key';
const LOG_DIR = join(REPO_ROOT, '.switchyard', 'soak-logs');
/**
 * A restarted service's own warm-up. V8 sizes its young generation to the allocation rate over
 * the first minutes under load (the worker's new space stood at 32 MB, from 1-4 MB at start):
 * a worker's resident memory rose by ~30 MB over its first four to five minutes and then held,
 * which measured from its second minute read as +32%.
 */
const PROCESS_WARMUP_MS = 5 * 60_000;
/** Past the batcher's once-a-minute removal of batches already done that BATCHES still holds. */
const LEFTOVERS_SETTLE_MS = 90_000;
const VICTIMS: ServiceName[] = ['admission', 'policy', 'scheduler', 'batcher', 'worker-simulator', 'metering', 'billing'];
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Memory samples of one process of a service: resident, and its live heap once it has one. */
interface Life {
  readonly service: ServiceName;
  readonly pid: number;
  readonly samples: MemorySample[];
  readonly liveHeap: MemorySample[];
}

async function main() {
  // Private servers, even where NATS_URL / REDIS_URL / DATABASE_URL name shared ones: the soak kills them.
  const none = { ...process.env, NATS_URL: undefined, REDIS_URL: undefined, DATABASE_URL: undefined };
  const [nats, redis, pg] = await Promise.all([startNats({}, none), startRedis({}, none), startPostgres({}, none)]);
  const servers: Record<'nats' | 'redis' | 'postgres', TestServer> = { nats, redis, postgres: pg };
  const { env, grpcAddress } = await privateStackEnv({ nats: nats.url, redis: redis.url, postgres: pg.url }, `acme:soak-1:${hashApiKey(KEY)}`, {
    WORKER_SPEED: '1',
    // Info, for each process's start line with its metrics port (and the soak's logs to read afterwards).
    LOG_LEVEL: 'info',
  });
  // Each process names its metrics port (a free one) in its start line.
  const metricsPorts = new Map<number, number>();
  const stack = await startStack(env, LOG_DIR, (name, code, signal) => log(`${name} exited (${signal ?? code})`), {
    onLine: (_, line) => {
      const found = metricsPortOf(line);
      if (found) metricsPorts.set(found.pid, found.port);
    },
  });
  // Ctrl-C stops the services and the private servers too, rather than leave them running.
  process.once('SIGINT', () => {
    log('interrupted; stopping the stack and the servers');
    void stack
      .stop()
      .then(() => Promise.all(Object.values(servers).map((s) => s.dispose())))
      .finally(() => process.exit(130));
  });
  await firstServedRequest(grpcAddress, KEY, 60_000);
  const nc = await connectBus({ url: nats.url, name: 'soak' });
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  const started = Date.now();
  log(`stack up; ${args.callers} callers for ${args.minutes} min, a fault every ${args['fault-every']} s, warm-up ${WARMUP_MS / 60_000} min`);

  let stopping = false;
  const outcomes: Record<string, number> = {};
  const callers = Array.from({ length: Number(args.callers) }, async (_, n) => {
    const client = createSwitchyardClient({ address: grpcAddress, apiKey: KEY });
    for (let i = 0; !stopping; i++) {
      let outcome = 'completed';
      try {
        for await (const { event } of client.generate({
          model: 'llama-3.1-8b',
          prompt: `soak caller ${n} call ${i}`,
          maxTokens: 16 + ((n * 13 + i) % 96),
          tier: [Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH][(n + i) % 3],
          timeoutMs: 10_000,
        })) {
          if (event?.$case === 'finished' && event.finished.outcome !== 1) outcome = `finished ${event.finished.outcome}`;
        }
      } catch (e) {
        outcome = String((e as { code?: number }).code ?? e);
        await sleep(200);
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      await sleep(50);
    }
    client.close();
  });

  const lives = new Map<number, Life>();
  const sampler = setInterval(() => {
    for (const [service, child] of stack.children) {
      if (!child.pid || child.exitCode !== null || child.signalCode !== null) continue;
      let life = lives.get(child.pid);
      if (!life) lives.set(child.pid, (life = { service, pid: child.pid, samples: [], liveHeap: [] }));
      const atMs = Date.now() - started;
      try {
        life.samples.push({ atMs, mb: rssMb(child.pid) });
      } catch {
        // Exited between the check and the read.
      }
      const port = metricsPorts.get(child.pid);
      if (port) void sampleLiveHeap(port, atMs, life);
    }
  }, 5_000);

  const faults = [
    ...VICTIMS.map((name) => async () => {
      process.kill(stack.children.get(name)!.pid!, 'SIGKILL');
      return `kill -9 ${name}`;
    }),
    ...(['nats', 'redis', 'postgres'] as const).map((server) => async () => {
      await servers[server].process!.kill();
      await sleep(2_000);
      for (let attempt = 1; ; attempt++) {
        try {
          await servers[server].process!.restart();
          break;
        } catch (e) {
          if (attempt === 10) throw e;
          await sleep(1_000);
        }
      }
      return `kill -9 ${server}-server, back after 2 s`;
    }),
  ];
  for (let n = 0; Date.now() - started + FAULT_MS <= RUN_MS; n++) {
    await sleep(Math.max(0, started + (n + 1) * FAULT_MS - Date.now()));
    // Interleave the kinds: a service, a server, the next service, the next server...
    const fault = faults[n % 2 === 0 ? (n / 2) % VICTIMS.length : VICTIMS.length + (((n - 1) / 2) % 3)]!;
    log(`fault ${n + 1}: ${await fault()}; calls so far ${JSON.stringify(outcomes)}`);
  }
  await sleep(Math.max(0, started + RUN_MS - Date.now()));
  stopping = true;
  await Promise.all(callers);
  clearInterval(sampler);

  // Every sample, for a closer look at a service's curve than the one figure below gives.
  const samplesFile = join(LOG_DIR, 'memory.json');
  writeFileSync(samplesFile, JSON.stringify([...lives.values()], null, 1));
  log(`memory samples of every process: ${samplesFile}`);

  // Memory: each service's longest-lived process, from the end of warm-up (or its start, if
  // later, plus PROCESS_WARMUP_MS) to its last sample. Resident memory is what the issue bounds;
  // the live heap beside it tells a leak (it grows) from V8 filling its heap (it does not).
  let grew = false;
  const pct = (growth: number) => `${growth >= 0 ? '+' : ''}${(100 * growth).toFixed(1)}%`;
  for (const service of SERVICES.filter((s) => s !== 'batch')) {
    const longest = [...lives.values()].filter((l) => l.service === service).sort((a, b) => b.samples.length - a.samples.length)[0];
    if (!longest || longest.samples.length < 2) continue;
    const fromMs = Math.max(WARMUP_MS, longest.samples[0]!.atMs + PROCESS_WARMUP_MS);
    const g = memoryGrowth(longest.samples, fromMs);
    const heap = memoryGrowth(longest.liveHeap, fromMs);
    if (!g) {
      log(`memory ${service}: no process lived four minutes past warm-up`);
      continue;
    }
    // A leak shows in the live heap first; it is held to the same bound where full collections were seen.
    grew ||= g.growth >= 0.1 || (heap?.growth ?? 0) >= 0.1;
    const at = (ms: number) => (ms / 60_000).toFixed(1);
    log(
      `memory ${service} (pid ${longest.pid}), highest of each half from ${at(g.base.atMs)} min to ${at(g.last.atMs)} min: ${g.base.mb.toFixed(0)} -> ${g.last.mb.toFixed(0)} MB ` +
        `(${pct(g.growth)}); live heap ${heap ? `${heap.base.mb.toFixed(1)} -> ${heap.last.mb.toFixed(1)} MB (${pct(heap.growth)})` : 'not measured (too few full collections in the span)'}`,
    );
  }

  const report = await checkRequestInvariants({ nc, sql, natsUrl: nats.url, databaseUrl: pg.url, sinceMs: started, timeoutMs: 60_000 });
  log(
    `calls ${JSON.stringify(outcomes)}; ${report.admitted} admitted, ${report.notEndedOnce.length} not ended exactly once; ${report.completed} completed, ` +
      `${report.billedTwice.length} billed twice, ${report.unbilled.length} unbilled; reconcile ${report.reconcileOk ? 'ok' : 'NOT ok'} ` +
      `(${report.reconcileDifferences.length} differences)`,
  );
  // Work left on the work queues once everything settled, and what was dead-lettered. A batch
  // whose ack was lost in a nats-server kill waits out its ack wait (30 s) and is acked on its
  // redelivery; one JetStream no longer delivered would hold requests that never end.
  const jsm = await jetstreamManager(nc);
  // nats-server 2.9 keeps some batches acked just before its kill -9 though their consumer
  // counts them done; the batcher removes such leftovers once a minute (removeAckedLeftovers).
  // One still held a minute and a half after the run is a defect: a worker's durable made
  // afresh on its subject would run its ended requests again.
  const terminals = await terminalsByRequest(nc);
  const endedBatches = (held: readonly HeldMessage[]) =>
    held.filter(({ event }) => event.payload?.$case === 'batchFormed' && event.payload.batchFormed.requests.every((r) => terminals.has(r.requestId)));
  let heldBatches = await heldMessages(nc, 'BATCHES', 20);
  for (const until = Date.now() + LEFTOVERS_SETTLE_MS; endedBatches(heldBatches).length > 0 && Date.now() < until;) {
    await sleep(5_000);
    heldBatches = await heldMessages(nc, 'BATCHES', 20);
  }
  const leftovers = endedBatches(heldBatches).length;
  const held = await Promise.all(['DISPATCH', 'BATCHES', 'DEADLETTER'].map(async (name) => `${name} ${(await jsm.streams.info(name)).state.messages}`));
  log(
    `messages still held: ${held.join(', ')}; batches of ended requests still held: ${leftovers}; removed by the batcher during the run: ${leftoversRemoved()}`,
  );
  // Each batch still held: where, since when, and whether its requests ended.
  if (heldBatches.length > 0) {
    for (const { seq, subject, storedAtMs, event } of heldBatches) {
      const batch = event.payload?.$case === 'batchFormed' ? event.payload.batchFormed : undefined;
      const ids = batch?.requests.map((r) => r.requestId) ?? [];
      const ended = ids.filter((id) => terminals.has(id)).length;
      log(
        `  held #${seq} ${subject} stored ${new Date(storedAtMs).toISOString().slice(11, 23)}: batch ${batch?.batchId ?? '(not a batch)'}, ${ids.length} requests, ${ended} ended`,
      );
    }
    // Where the consumers of those subjects stand: whether JetStream still means to deliver them.
    const subjectsHeld = new Set(heldBatches.map((m) => m.subject));
    for await (const c of jsm.consumers.list('BATCHES')) {
      if (!subjectsHeld.has(c.config.filter_subject ?? '')) continue;
      log(
        `  consumer ${c.name} (${c.config.filter_subject}): delivered #${c.delivered.stream_seq}, ack floor #${c.ack_floor.stream_seq}, ` +
          `${c.num_pending} pending, ${c.num_ack_pending} awaiting ack, ${c.num_redelivered} redelivered, ${c.num_waiting} pulls waiting`,
      );
    }
  }
  if (report.notEndedOnce.length > 0) {
    // Which requests, and how each ended (none, or more than once), to follow in the logs.
    const shown = report.notEndedOnce.slice(0, 20);
    log(`not ended exactly once: ${shown.map((id) => `${id}: ${(terminals.get(id) ?? ['no terminal event']).join(', ')}`).join('; ')}`);
    // Each one's path, with wall-clock times to set beside the faults above, and what the services logged about it.
    const trails = await trailsOf(nc, shown, ['REQUESTS', 'DECISIONS', 'USAGE', 'LIFECYCLE']);
    for (const id of shown) {
      log(`${id}: ${wallClockTrail(trails.get(id) ?? [])}`);
      for (const line of logLinesAbout(id)) log(`  ${line}`);
    }
  }
  await nc.close();
  await sql.end();
  await stack.stop();
  await Promise.all(Object.values(servers).map((s) => s.dispose()));
  const ok =
    !grew && leftovers === 0 && report.notEndedOnce.length === 0 && report.billedTwice.length === 0 && report.unbilled.length === 0 && report.reconcileOk;
  log(ok ? 'soak passed' : 'soak FAILED');
  process.exitCode = ok ? 0 : 1;
}

/** Adds a process's live heap to its samples when a full collection changed it (a missed reading is only a gap). */
async function sampleLiveHeap(port: number, atMs: number, life: Life): Promise<void> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) });
    const mb = liveHeapMbOf(await res.text());
    // The gauge keeps its value until the next full collection: a reading counts only when a new
    // one changed it, so a span's readings are of collections made in it (policy and scheduler
    // can go a whole life under load without one after start-up).
    if (mb !== undefined && mb !== life.liveHeap.at(-1)?.mb) life.liveHeap.push({ atMs, mb });
  } catch {
    // Exited, or busy past the timeout.
  }
}

/** How many batches already done the batcher found still held and removed, from its log. */
function leftoversRemoved(): number {
  return readFileSync(join(LOG_DIR, 'batcher.log'), 'utf8')
    .split('\n')
    .filter((line) => line.includes('removed batches already done'))
    .reduce((sum, line) => sum + Number(/"batches":(\d+)/.exec(line)?.[1] ?? 0), 0);
}

/** The services' log lines naming `requestId` (the first 10, cut to 400 characters), as `<service>: <line>`. */
function logLinesAbout(requestId: string): string[] {
  return readdirSync(LOG_DIR)
    .filter((f) => f.endsWith('.log'))
    .flatMap((f) =>
      readFileSync(join(LOG_DIR, f), 'utf8')
        .split('\n')
        .filter((line) => line.includes(requestId))
        .map((line) => `${f.slice(0, -4)}: ${line.slice(0, 400)}`),
    )
    .slice(0, 10);
}

await main();

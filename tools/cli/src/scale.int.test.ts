import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey } from '@switchyard/auth';
import { connectBus, followEvents, type NatsConnection } from '@switchyard/bus';
import { Outcome, filters } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { startNats, startRedis, waitFor, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { privateStackEnv } from './private-stack.js';
import { REPO_ROOT, firstServedRequest, startStack, type ServiceName, type Stack } from './stack.js';

// `switchyard up --scale worker-simulator=3`: three worker processes share one pool's work, and
// each is supervised on its own.
const KEY = 'sy_scale_key';
const LOG_DIR = join(REPO_ROOT, '.switchyard', 'scale-test-logs');
const REPLICAS = ['worker-simulator-1', 'worker-simulator-2', 'worker-simulator-3'];

let servers: TestServer[] = [];
let stack: Stack | undefined;
let client: SwitchyardClient | undefined;
let nc: NatsConnection | undefined;
/** Each replica's worker-id prefix (its instance), from its `workers up` log line. */
const instanceOf = new Map<string, string>();
/** The worker that ran each completed request. */
const completedBy = new Map<string, string>();
const restarts: Array<{ label: string; child: ChildProcess; at: number }> = [];

const replicaOfWorker = (workerId: string) => [...instanceOf].find(([, instance]) => workerId.startsWith(`${instance}-w`))?.[0];

beforeAll(async () => {
  const [natsServer, redis] = await Promise.all([startNats(), startRedis()]);
  servers = [natsServer, redis];
  // One pool of one 4-slot worker per process: three processes give it three workers.
  const dir = mkdtempSync(join(tmpdir(), 'scale-'));
  const poolsFile = join(dir, 'pools.yaml');
  writeFileSync(
    poolsFile,
    'pools:\n  - { id: scale-1b, provider: aws, region: eu-west-1, gpu: h100-80gb, model: llama-3.2-1b, workers: 1, slotsPerWorker: 4, capacityClass: on-demand, pricePerGpuHour: 2 }\n',
  );
  // No Postgres: metering, billing and batch stay out; nothing here bills.
  const { env, grpcAddress } = await privateStackEnv(
    { nats: natsServer.url, redis: redis.url, postgres: 'postgres://unused@127.0.0.1:1/none' },
    `t:tenant-1:${hashApiKey(KEY)}`,
    {
      POOLS_FILE: poolsFile,
      LOG_LEVEL: 'info',
      // Real time, so a worker stays busy while its slots are full and the others take the rest.
      WORKER_SPEED: '1',
      // A killed worker's batches come back after this (default 30 s).
      WORKER_ACK_WAIT_MS: '2000',
    },
  );
  nc = await connectBus({ url: natsServer.url, name: 'scale-test' });
  followEvents(nc, filters.allTerminals, (e) => {
    if (e.payload?.$case !== 'requestTerminated') return;
    const t = e.payload.requestTerminated;
    if (t.outcome === Outcome.OUTCOME_COMPLETED) completedBy.set(t.requestId, t.workerId);
  });
  const services: ServiceName[] = ['policy', 'worker-simulator', 'batcher', 'scheduler', 'admission'];
  stack = await startStack(env, LOG_DIR, () => {}, {
    services,
    scale: { 'worker-simulator': 3 },
    onRestart: (_name, child, _crashes, replica) => restarts.push({ label: replica.label, child, at: performance.now() }),
    onLine: (replica, line) => {
      if (!line.includes('"workers up"')) return;
      const id = /"([A-Za-z0-9_-]+)-w0"/.exec(line)?.[1];
      if (id) instanceOf.set(replica.label, id);
    },
  });
  await firstServedRequest(grpcAddress, KEY, 40_000);
  await waitFor('every worker replica to be up', async () => (REPLICAS.every((r) => instanceOf.has(r)) ? true : undefined), 10_000);
  client = createSwitchyardClient({ address: grpcAddress, apiKey: KEY });
}, 60_000);

afterAll(async () => {
  client?.close();
  await nc?.close();
  await stack?.stop();
  await Promise.all(servers.map((s) => s.dispose()));
});

/** `n` requests, `callers` at a time; the ids of the ones served. */
async function send(n: number, callers: number, prompt: string): Promise<string[]> {
  const served: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next < n) {
        const i = next++;
        const r = await client!.complete({ model: 'llama-3.2-1b', prompt: `${prompt} ${i}`, maxTokens: 16, timeoutMs: 15_000 }).catch(() => undefined);
        if (r) served.push(r.requestId);
      }
    }),
  );
  return served;
}

it('runs three worker processes, each with its own log, that all serve one pool', async () => {
  for (const label of REPLICAS) {
    expect(stack!.replicas.get(label)!.pid, label).toBeGreaterThan(0);
    expect(readFileSync(join(LOG_DIR, `${label}.log`), 'utf8'), label).toContain('workers up');
  }
  expect(new Set(REPLICAS.map((r) => stack!.replicas.get(r)!.pid)).size).toBe(3);

  const served = await send(60, 9, 'share');
  expect(served.length).toBe(60);
  await waitFor('every completion event', async () => (served.every((id) => completedBy.has(id)) ? true : undefined), 5_000);
  const perReplica = new Map<string, number>();
  for (const id of served) {
    const replica = replicaOfWorker(completedBy.get(id)!) ?? 'unknown';
    perReplica.set(replica, (perReplica.get(replica) ?? 0) + 1);
  }
  console.log('requests per worker replica:', Object.fromEntries(perReplica));
  for (const label of REPLICAS) expect(perReplica.get(label) ?? 0, `${label} served`).toBeGreaterThan(0);
}, 30_000);

it('kill -9 of one replica: it alone is restarted within 5 s, requests keep completing, and the new process serves', async () => {
  const victim = 'worker-simulator-2';
  const old = stack!.replicas.get(victim)!;
  const others = REPLICAS.filter((r) => r !== victim).map((r) => [r, stack!.replicas.get(r)!.pid] as const);
  instanceOf.delete(victim);

  const load = send(120, 6, 'through the kill');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const completedBefore = completedBy.size;
  const killedAt = performance.now();
  process.kill(old.pid!, 'SIGKILL');
  const restart = await waitFor('the replica to be restarted', async () => restarts.find((r) => r.label === victim), 5_000);
  console.log(`${victim} restarted ${((restart.at - killedAt) / 1000).toFixed(2)} s after kill -9`);
  expect(restart.at - killedAt).toBeLessThan(5_000);
  expect(restart.child.pid).not.toBe(old.pid);
  expect(stack!.replicas.get(victim)).toBe(restart.child);
  for (const [label, pid] of others) expect(stack!.replicas.get(label)!.pid, `${label} was left alone`).toBe(pid);
  // The survivors kept serving while it was down.
  expect(completedBy.size).toBeGreaterThan(completedBefore);

  const served = await load;
  console.log(`${served.length} of 120 requests served through the kill`);
  expect(served.length).toBeGreaterThanOrEqual(110);
  // The restarted process has a new instance id; it serves again.
  await waitFor('the restarted replica to be up', async () => instanceOf.get(victim), 5_000);
  const after = await send(30, 9, 'after the restart');
  expect(after.length).toBe(30);
  await waitFor('every completion event', async () => (after.every((id) => completedBy.has(id)) ? true : undefined), 5_000);
  expect(after.filter((id) => replicaOfWorker(completedBy.get(id)!) === victim).length, `${victim} served after its restart`).toBeGreaterThan(0);
  expect(readFileSync(join(LOG_DIR, `${victim}.log`), 'utf8')).toContain(`${victim} restarted (pid ${restart.child.pid})`);
}, 45_000);

import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, jetstream, openBucket, provisionStreams, publishEvent, type JetStreamClient, type KV, type NatsConnection } from '@switchyard/bus';
import {
  batchFormed,
  Outcome,
  buckets,
  decodeEvent,
  heartbeatKey,
  makeEvent,
  parseHeartbeat,
  streams,
  subjects,
  type RequestTerminated,
} from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { startNats, testPool, waitFor, type TestServer, testRequestSpec } from '@switchyard/testing';
import { createWorkerSimulator, type WorkerSimulator, type WorkerSimulatorDeps } from '@switchyard/worker-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue #15, item 8: `ops.worker.>` is reachable by anyone on the bus, so a worker takes fault
 * commands only when it was started with them on (`WORKER_FAULTS=on`).
 */
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const encode = (body: unknown) => new TextEncoder().encode(JSON.stringify(body));

let nats: TestServer;
let nc: NatsConnection;
let js: JetStreamClient;
let kv: KV;
const running: WorkerSimulator[] = [];

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'fault-injection-test' });
  js = jetstream(nc);
  await provisionStreams(await js.jetstreamManager(), Object.values(streams));
  kv = await openBucket(nc, buckets.pools, { ttl: 10_000 });
});
afterAll(async () => {
  for (const sim of running) await sim.stop();
  await nc?.close();
  await nats?.dispose();
});

/** One pool of one worker, served by a simulator built with `options` over the defaults. */
async function serve(options: Partial<WorkerSimulatorDeps> = {}) {
  const pool = testPool({ id: unique('pool'), tiers: ['realtime'], slotsPerWorker: 8 });
  const sim = createWorkerSimulator({
    nc,
    js,
    poolsKv: kv,
    pools: [pool],
    logger: createLogger({ service: 'worker-simulator', level: 'silent' }),
    instanceId: unique('i'),
    speed: 'max',
    heartbeatMs: 100,
    ...options,
  });
  running.push(sim);
  await sim.start();
  const worker = sim.workers()[0]!.id;
  const beat = async () => parseHeartbeat((await kv.get(heartbeatKey(pool.id, worker)))!.value)!;
  await waitFor('a first heartbeat', async () => ((await kv.get(heartbeatKey(pool.id, worker))) ? true : undefined));
  return { pool, worker, beat };
}

/** Sends one request to `pool` as the batcher would and waits for its terminal event. */
async function generate(pool: string, timeoutMs = 10_000): Promise<RequestTerminated | undefined> {
  const tenant = unique('t');
  const requestId = unique('req');
  let terminal: RequestTerminated | undefined;
  const sub = nc.subscribe(`requests.*.${tenant}`, {
    callback: (_e, msg) => {
      const event = decodeEvent(msg.data);
      if (event.payload?.$case === 'requestTerminated') terminal = event.payload.requestTerminated;
    },
  });
  const request = testRequestSpec(requestId, { tenant, prompt: 'p', promptTokens: 64 });
  const batchId = unique('batch');
  await publishEvent(
    js,
    subjects.batches(pool),
    makeEvent(
      { id: batchId, tenant, requestId, nowMs: Date.now() },
      {
        $case: 'batchFormed',
        batchFormed: batchFormed({ batchId, pool, requests: [request] }),
      },
    ),
  );
  try {
    return await waitFor(`terminal of ${requestId}`, () => terminal, timeoutMs);
  } catch {
    return undefined;
  } finally {
    sub.unsubscribe();
  }
}

describe('fault commands on ops.worker.<pool>', () => {
  it('are ignored by a worker started with the defaults: a crash sent to its pool leaves it serving and heartbeating', async () => {
    const { pool, beat } = await serve();
    nc.publish(subjects.workerControl(pool.id), encode({ kind: 'crash' }));
    await nc.flush();
    const before = await beat();
    expect((await generate(pool.id, 5_000))?.outcome).toBe(Outcome.OUTCOME_COMPLETED);
    await sleep(300);
    expect((await beat()).atUnixMs).toBeGreaterThan(before.atUnixMs);
    // Nobody takes the command, so a request for it has no responders.
    await expect(nc.request(subjects.workerControl(pool.id), encode({ kind: 'crash' }), { timeout: 1_000 })).rejects.toThrow(/no responders/);
  });

  it('crash a worker started with faults on: it stops heartbeating and serves nothing until cleared', async () => {
    const { pool, worker, beat } = await serve({ faults: true });
    const reply = await nc.request(subjects.workerControl(pool.id, worker), encode({ kind: 'crash' }), { timeout: 2_000 });
    expect(JSON.parse(new TextDecoder().decode(reply.data))).toMatchObject({ crashed: true });
    const atCrash = (await beat()).atUnixMs;
    expect(await generate(pool.id, 1_500)).toBeUndefined();
    expect((await beat()).atUnixMs).toBe(atCrash);
    nc.publish(subjects.workerControl(pool.id), encode({ kind: 'clear' }));
    await waitFor('the cleared worker to heartbeat again', async () => ((await beat()).atUnixMs > atCrash ? true : undefined));
  });
});

import {
  connectBus,
  ensureDurable,
  jetstream,
  provisionStreams,
  publishEvent,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from '@switchyard/bus';
import { batchFormed, durables, makeEvent, streams, subjects } from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { startNats, testRequestSpec, type TestServer } from '@switchyard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatcherMetrics } from './metrics.js';
import { createWorkerQueues } from './worker-queues.js';

/*
 * nats-server 2.9 can keep a batch on BATCHES that its consumer counts as done (below the ack
 * floor): the soak found them after every nats-server kill -9. A worker's durable that the
 * batcher forgets (its worker silent for 10 minutes) and that the worker makes afresh on its
 * return would deliver them, and the worker would run requests that ended long ago. The test
 * makes such a leftover on purpose: a durable with one delivery lets a batch run out of
 * deliveries unacked, and a later batch acked moves the floor past it.
 */

let nats: TestServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
beforeAll(async () => {
  // Private even where NATS_URL names a shared server: the test reads BATCHES whole.
  nats = await startNats({}, { ...process.env, NATS_URL: undefined });
  nc = await connectBus({ url: nats.url, name: 'worker-queues-test' });
  js = jetstream(nc);
  jsm = await js.jetstreamManager();
  await provisionStreams(jsm, Object.values(streams));
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const batchOn = (pool: string, worker: string, id: string) =>
  publishEvent(
    js,
    subjects.batches(pool, worker),
    makeEvent(
      { id, tenant: 'acme', requestId: id, nowMs: Date.now() },
      { $case: 'batchFormed', batchFormed: batchFormed({ batchId: id, pool, requests: [testRequestSpec(id)], worker }) },
    ),
  );

/**
 * Makes a leftover on `subject`: a durable with one delivery lets a batch run out of
 * deliveries unacked, and a later batch acked moves the floor past it.
 */
async function leaveBehind(pool: string, durable: string, subject: string, worker: string): Promise<void> {
  await ensureDurable(jsm, { stream: streams.BATCHES.name, durable, filterSubject: subject, maxDeliver: 1, ackWaitMs: 1_000 });
  const consumer = await js.consumers.get(streams.BATCHES.name, durable);
  const take = async () => {
    for await (const m of await consumer.fetch({ max_messages: 1, expires: 1_000 })) return m;
    return undefined;
  };
  await batchOn(pool, worker, `ran-and-ended-${durable}`);
  expect(await take()).toBeDefined();
  await sleep(1_500);
  expect(await take()).toBeUndefined();
  await batchOn(pool, worker, `done-${durable}`);
  await (await take())!.ackAck();
}

describe("a worker's queue the batcher forgets", () => {
  it('loses the batches JetStream counts as done before its durable goes, so a returning worker runs nothing twice', async () => {
    const pool = 'leftover-pool';
    const worker = 'w-gone';
    const durable = durables.worker(pool, worker);
    const subject = subjects.batches(pool, worker);
    await Promise.all([leaveBehind(pool, durable, subject, worker), leaveBehind(pool, durables.workers(pool), subjects.batches(pool), '')]);
    // Still to do on the pool's queue: a batch no worker has taken.
    await batchOn(pool, '', 'queued');
    const held = async (s: string) => (await jsm.streams.info(streams.BATCHES.name, { subjects_filter: s })).state.subjects?.[s] ?? 0;
    expect({ worker: await held(subject), pool: await held(subjects.batches(pool)) }).toEqual({ worker: 1, pool: 2 });

    // The worker has been silent past forgetAfterMs (0 here) and sends no heartbeat.
    let clock = Date.now();
    const queues = createWorkerQueues({
      js,
      jsm,
      pool,
      heartbeats: () => [],
      metrics: createBatcherMetrics(),
      logger: createLogger({ service: 'batcher', level: 'silent' }),
      now: () => clock,
      forgetAfterMs: 0,
    });
    await queues.sweep();
    expect({ worker: await held(subject), pool: await held(subjects.batches(pool)) }).toEqual({ worker: 0, pool: 1 });
    clock += 60_000;
    await queues.sweep();
    await expect(jsm.consumers.info(streams.BATCHES.name, durable)).rejects.toThrow(/consumer not found/);

    // The worker returns and makes its durable again: nothing stale is delivered to it.
    await ensureDurable(jsm, { stream: streams.BATCHES.name, durable, filterSubject: subject });
    expect((await jsm.consumers.info(streams.BATCHES.name, durable)).num_pending).toBe(0);
    // The pool's workers still get the batch no one took.
    expect((await jsm.consumers.info(streams.BATCHES.name, durables.workers(pool))).num_pending).toBe(1);
  }, 30_000);
});

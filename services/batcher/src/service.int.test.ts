import {
  claimOf,
  connectBus,
  ensureDurable,
  BATCHING_BUCKET,
  jetstream,
  openBucket,
  provisionStreams,
  publishEvent,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
} from '@switchyard/bus';
import {
  Outcome,
  Tier,
  batchingKeys,
  buckets,
  decodeEvent,
  durables,
  encodeHeartbeat,
  parseHeartbeat,
  makeEvent,
  streams,
  subjects,
  tierName,
  type BatchFormed,
  type RequestSpec,
} from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { idleHeartbeat, keepWorkerIdle, startNats, testPool, waitFor, type TestServer, testRequestSpec } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handOff } from './handoff.js';
import { createBatcher, type Batcher } from './service.js';

/**
 * The batcher as its neighbours see it: requests the scheduler dispatched to a pool come out
 * as batches for that pool's workers, most urgent tier first, each request claimed by exactly
 * one batch and its dispatch message settled.
 */

const pool = testPool({ id: 'eu-h100' });
/** A pool whose requests name the worker holding their prefix (tests of worker affinity). */
const near = testPool({ id: 'near', workers: 3 });

let nats: TestServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let poolsKv: KV;
let batchingKv: KV;
let batcher: Batcher;
let beating: { stop(): void } | undefined;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'batcher-service-test' });
  js = jetstream(nc);
  jsm = await js.jetstreamManager();
  await provisionStreams(jsm, Object.values(streams));
  poolsKv = await openBucket(nc, buckets.pools, { ttl: 10_000 });
  batchingKv = await openBucket(nc, buckets.batching, BATCHING_BUCKET);
  // The pool's workers' durable, as the worker simulator creates it; nobody pulls here, so a
  // batch handed off stays visible on BATCHES.
  for (const p of [pool, near])
    await ensureDurable(jsm, { stream: streams.BATCHES.name, durable: durables.workers(p.id), filterSubject: subjects.batches(p.id) });
  batcher = createBatcher({ js, poolsKv, batchingKv, pools: [pool, near], logger: createLogger({ service: 'batcher', level: 'silent' }) });
  await batcher.start();
});
afterAll(async () => {
  beating?.stop();
  await batcher?.stop();
  await nc?.close();
  await nats?.dispose();
});

const spec = (requestId: string, tier: Tier): RequestSpec => testRequestSpec(requestId, { tier });

const dispatch = (request: RequestSpec, to = pool.id, worker = '') =>
  publishEvent(
    js,
    subjects.dispatch(to),
    makeEvent(
      { id: `dispatch-${request.requestId}`, tenant: request.tenant, requestId: request.requestId, nowMs: Date.now() },
      { $case: 'requestDispatched', requestDispatched: { request, pool: to, worker, workerHitTokens: worker ? 1_000 : 0 } },
    ),
  );

/** Batches stored on `subject`, read message by message (no consumer: BATCHES is a work queue). */
async function batches(subject = subjects.batches(pool.id)): Promise<BatchFormed[]> {
  const { first_seq, last_seq } = (await jsm.streams.info(streams.BATCHES.name)).state;
  const out: BatchFormed[] = [];
  for (let seq = first_seq; seq > 0 && seq <= last_seq; seq++) {
    const m = await jsm.streams.getMessage(streams.BATCHES.name, { seq }).catch(() => null);
    const payload = m?.subject === subject ? decodeEvent(m.data).payload : undefined;
    if (payload?.$case === 'batchFormed') out.push(payload.batchFormed);
  }
  return out;
}

async function claimKeys(): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of await batchingKv.keys(batchingKeys.claim('>'))) keys.push(k);
  return keys;
}

describe('batcher service', () => {
  it('hands dispatched requests to the pool as one batch, realtime before internal, one claim per request', async () => {
    // Internal work arrives first, realtime later; the pool has no announced room yet, so both wait in the queue.
    const internal = ['int-1', 'int-2', 'int-3'].map((id) => spec(id, Tier.TIER_INTERNAL));
    const realtime = ['rt-1', 'rt-2'].map((id) => spec(id, Tier.TIER_REALTIME));
    for (const r of [...internal, ...realtime]) await dispatch(r);
    await waitFor('the batcher to hold all five dispatched requests', async () => {
      const info = await jsm.consumers.info(streams.DISPATCH.name, `batcher-${pool.id}`);
      return info.num_ack_pending === 5 ? true : undefined;
    });
    expect(await batches()).toEqual([]);

    // A worker announces room, as the worker simulator does every second.
    beating = await keepWorkerIdle(poolsKv, pool);

    const [batch] = await waitFor('a batch on batches.<pool>', async () => {
      const found = await batches();
      return found.length > 0 ? found : undefined;
    });
    expect(batch!.pool).toBe(pool.id);
    expect(batch!.requests.map((r) => r.requestId).sort()).toEqual(['int-1', 'int-2', 'int-3', 'rt-1', 'rt-2']);
    expect(batch!.requests.map((r) => tierName(r.tier))).toEqual(['realtime', 'realtime', 'internal', 'internal', 'internal']);

    // Each request is claimed once, by the batch that carries it.
    expect((await claimKeys()).sort()).toEqual([...internal, ...realtime].map((r) => batchingKeys.claim(r.requestId)).sort());
    for (const r of batch!.requests) expect(await claimOf(batchingKv, r.requestId)).toBe(batch!.batchId);

    // The dispatch messages are settled: nothing is left to be delivered again.
    await waitFor('DISPATCH for the pool to be empty', async () => {
      const info = await jsm.consumers.info(streams.DISPATCH.name, `batcher-${pool.id}`);
      return info.num_ack_pending === 0 && info.num_pending === 0 ? true : undefined;
    });
    expect(await batches()).toHaveLength(1);
  });

  it('ends a request whose deadline passed in its queue EXPIRED, naming its tier, the model it was placed for and its feature', async () => {
    const late = { ...spec('late-1', Tier.TIER_INTERNAL), deadlineUnixMs: Date.now() - 1, feature: 'search' };
    await dispatch(late);
    const terminal = await waitFor('the expired terminal on LIFECYCLE', async () => {
      const m = await jsm.streams.getMessage(streams.LIFECYCLE.name, { last_by_subj: subjects.requestTerminated('expired', 'acme') }).catch(() => null);
      const payload = m ? decodeEvent(m.data).payload : undefined;
      return payload?.$case === 'requestTerminated' && payload.requestTerminated.requestId === late.requestId ? payload.requestTerminated : undefined;
    });
    expect(terminal).toMatchObject({ outcome: Outcome.OUTCOME_EXPIRED, pool: pool.id, tier: Tier.TIER_INTERNAL, model: 'llama-3.1-8b', feature: 'search' });
  });
});

describe('worker affinity', () => {
  const nearBeat = (worker: string, draining = false) => {
    const { key, value } = idleHeartbeat(near, worker, Date.now());
    return poolsKv.put(key, encodeHeartbeat({ ...parseHeartbeat(value)!, draining }));
  };
  /** A worker's own durable, as the worker simulator creates it (a short ack wait, for the test). */
  const ownDurable = (worker: string) =>
    ensureDurable(jsm, {
      stream: streams.BATCHES.name,
      durable: durables.worker(near.id, worker),
      filterSubject: subjects.batches(near.id, worker),
      ackWaitMs: 1_000,
    });
  /** Takes (and acks) what the pool's shared queue holds, as its workers would. */
  async function takeFromPool(): Promise<BatchFormed[]> {
    const info = await jsm.consumers.info(streams.BATCHES.name, durables.workers(near.id));
    if (info.num_pending === 0) return [];
    const got: BatchFormed[] = [];
    const consumer = await js.consumers.get(streams.BATCHES.name, durables.workers(near.id));
    for await (const m of await consumer.fetch({ max_messages: info.num_pending, expires: 1_000 })) {
      const payload = decodeEvent(m.data).payload;
      if (payload?.$case === 'batchFormed') got.push(payload.batchFormed);
      m.ack();
      if (got.length === info.num_pending) break;
    }
    return got;
  }
  let beats: NodeJS.Timeout | undefined;
  afterAll(() => clearInterval(beats));

  it("moves a dead worker's queue to its pool: what it never took at once, what it took and died with once its ack wait passes", async () => {
    await ownDurable('w-dead');
    await handOff(js, batchingKv, near.id, 'batch-dead-1', [spec('dead-1', Tier.TIER_REALTIME), spec('dead-2', Tier.TIER_REALTIME)], Date.now(), 'w-dead');
    await handOff(js, batchingKv, near.id, 'batch-dead-2', [spec('dead-3', Tier.TIER_REALTIME), spec('dead-4', Tier.TIER_REALTIME)], Date.now(), 'w-dead');
    // The worker took the first batch, then died holding it (no ack, no heartbeat ever again).
    const consumer = await js.consumers.get(streams.BATCHES.name, durables.worker(near.id, 'w-dead'));
    for await (const m of await consumer.fetch({ max_messages: 1, expires: 1_000 })) expect(decodeEvent(m.data).envelope!.id).toBe('batch-dead-1');

    const moved: BatchFormed[] = [];
    await waitFor('both batches on the pool queue', async () => {
      moved.push(...(await takeFromPool()));
      return moved.length === 2 ? true : undefined;
    });
    // Untaken first; the one it died with after its ack wait, its two deliveries counted.
    expect(moved.map((b) => [b.batchId, b.worker, b.earlierDeliveries, b.requests.length])).toEqual([
      ['batch-dead-2', '', 1, 2],
      ['batch-dead-1', '', 2, 2],
    ]);
    // Claims still name the batches, so the pool's workers run them as the same batches.
    expect(await claimOf(batchingKv, 'dead-1')).toBe('batch-dead-1');
    const own = await jsm.consumers.info(streams.BATCHES.name, durables.worker(near.id, 'w-dead'));
    expect([own.num_pending, own.num_ack_pending]).toEqual([0, 0]);
  });

  it("hands a request to the worker named for its prefix while it takes them, to the pool when it does not, and moves a draining or stalled worker's queue", async () => {
    await ownDurable('w-0');
    await ownDurable('w-drain');
    await nearBeat('w-0');
    await nearBeat('w-drain', true);
    beats = setInterval(() => void Promise.all([nearBeat('w-0'), nearBeat('w-drain', true)]), 500);

    await dispatch(spec('aff-1', Tier.TIER_REALTIME), near.id, 'w-0');
    const [mine] = await waitFor('a batch for w-0 alone', async () => {
      const found = await batches(subjects.batches(near.id, 'w-0'));
      return found.length > 0 ? found : undefined;
    });
    expect([mine!.worker, mine!.requests.map((r) => r.requestId)]).toEqual(['w-0', ['aff-1']]);

    // Named workers that are gone or draining: the whole pool takes them.
    await dispatch(spec('aff-2', Tier.TIER_REALTIME), near.id, 'w-gone');
    await dispatch(spec('aff-3', Tier.TIER_REALTIME), near.id, 'w-drain');
    const taken: BatchFormed[] = [];
    await waitFor('all on the pool queue', async () => {
      taken.push(...(await takeFromPool()));
      return taken.length === 3 ? true : undefined;
    });
    // w-0 is alive but nobody pulls its queue here: it took nothing between two sweeps, so it is
    // full, and aff-1 goes to the pool rather than wait behind its work.
    expect(taken.map((b) => [b.requests[0]!.requestId, b.earlierDeliveries]).sort()).toEqual([
      ['aff-1', 1],
      ['aff-2', 0],
      ['aff-3', 0],
    ]);

    // A batch that reached a worker's queue before it began draining goes to the pool too.
    await handOff(js, batchingKv, near.id, 'batch-drain', [spec('drain-1', Tier.TIER_REALTIME)], Date.now(), 'w-drain');
    const moved = await waitFor("the draining worker's batch on the pool queue", async () => {
      const got = await takeFromPool();
      return got.length > 0 ? got : undefined;
    });
    expect(moved.map((b) => [b.requests[0]!.requestId, b.earlierDeliveries])).toEqual([['drain-1', 1]]);
  });
});

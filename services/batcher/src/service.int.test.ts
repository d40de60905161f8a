import {
  claimOf,
  connectBus,
  ensureDurable,
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
  makeEvent,
  streams,
  subjects,
  tierName,
  type BatchFormed,
  type RequestSpec,
} from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { idleHeartbeat, startNats, testPool, waitFor, type TestServer, testRequestSpec } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatcher, type Batcher } from './service.js';

/**
 * The batcher as its neighbours see it: requests the scheduler dispatched to a pool come out
 * as batches for that pool's workers, most urgent tier first, each request claimed by exactly
 * one batch and its dispatch message settled.
 */

const pool = testPool({ id: 'eu-h100' });

let nats: TestServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let poolsKv: KV;
let batchingKv: KV;
let batcher: Batcher;
let beating: NodeJS.Timeout | undefined;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'batcher-service-test' });
  js = jetstream(nc);
  jsm = await js.jetstreamManager();
  await provisionStreams(jsm, Object.values(streams));
  poolsKv = await openBucket(nc, buckets.pools, { ttl: 10_000 });
  batchingKv = await openBucket(nc, buckets.batching, { ttl: 3_600_000 });
  // The pool's workers' durable, as the worker simulator creates it; nobody pulls here, so a
  // batch handed off stays visible on BATCHES.
  await ensureDurable(jsm, { stream: streams.BATCHES.name, durable: durables.workers(pool.id), filterSubject: subjects.batches(pool.id) });
  batcher = createBatcher({ js, poolsKv, batchingKv, pools: [pool], logger: createLogger({ service: 'batcher', level: 'silent' }) });
  await batcher.start();
});
afterAll(async () => {
  clearInterval(beating);
  await batcher?.stop();
  await nc?.close();
  await nats?.dispose();
});

/** A worker of `pool` with room, as the worker simulator announces it every second. */
const beat = () => {
  const { key, value } = idleHeartbeat(pool, 'w-0', Date.now());
  return poolsKv.put(key, value);
};

const spec = (requestId: string, tier: Tier): RequestSpec => testRequestSpec(requestId, { tier });

const dispatch = (request: RequestSpec) =>
  publishEvent(
    js,
    subjects.dispatch(pool.id),
    makeEvent(
      { id: `dispatch-${request.requestId}`, tenant: request.tenant, requestId: request.requestId, nowMs: Date.now() },
      { $case: 'requestDispatched', requestDispatched: { request, pool: pool.id } },
    ),
  );

/** Batches stored on `batches.<pool>`, read message by message (no consumer: BATCHES is a work queue). */
async function batches(): Promise<BatchFormed[]> {
  const { first_seq, last_seq } = (await jsm.streams.info(streams.BATCHES.name)).state;
  const out: BatchFormed[] = [];
  for (let seq = first_seq; seq > 0 && seq <= last_seq; seq++) {
    const m = await jsm.streams.getMessage(streams.BATCHES.name, { seq }).catch(() => null);
    const payload = m?.subject === subjects.batches(pool.id) ? decodeEvent(m.data).payload : undefined;
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

    // A worker announces room.
    await beat();
    beating = setInterval(() => void beat(), 500);

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

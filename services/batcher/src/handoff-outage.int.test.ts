import {
  connectBus,
  ensureDurable,
  BATCHING_BUCKET,
  jetstream,
  openBucket,
  provisionStreams,
  publishEvent,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from '@switchyard/bus';
import { buckets, decodeEvent, durables, makeEvent, streams, subjects } from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { keepWorkerIdle, startNats, testPool, testRequestSpec, waitFor, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatcher, type Batcher } from './service.js';

/*
 * A hand-off that keeps failing for longer than five deliveries' backoff (100 ms .. 5 s, ~8 s
 * in all): the batching bucket, where each request is claimed for its batch, is gone for a
 * while, as it cannot take writes for the 5-10 s a 2.9 cluster takes to elect its stream's
 * leader. The dispatch used to be dead-lettered on its fifth failure, and its request never
 * ended. It must wait for the bucket and go out once it is back.
 */

const pool = testPool({ id: 'outage-pool' });
let nats: TestServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let batcher: Batcher;
const BUCKET_STREAM = `KV_${buckets.batching}`;
let beating: { stop(): void } | undefined;

beforeAll(async () => {
  // Private even where NATS_URL names a shared server: the test deletes a stream.
  nats = await startNats({}, { ...process.env, NATS_URL: undefined });
  nc = await connectBus({ url: nats.url, name: 'batcher-outage-test' });
  js = jetstream(nc);
  jsm = await js.jetstreamManager();
  await provisionStreams(jsm, Object.values(streams));
  const poolsKv = await openBucket(nc, buckets.pools, { ttl: 10_000 });
  const batchingKv = await openBucket(nc, buckets.batching, BATCHING_BUCKET);
  beating = await keepWorkerIdle(poolsKv, pool);
  batcher = createBatcher({ js, poolsKv, batchingKv, pools: [pool], logger: createLogger({ service: 'batcher', level: 'silent' }) });
  await batcher.start();
});
afterAll(async () => {
  beating?.stop();
  await batcher?.stop();
  await nc?.close();
  await nats?.dispose();
});

describe('a hand-off that fails for longer than five deliveries', () => {
  it('waits for the batching bucket to come back and hands the request off, never dead-lettering it', async () => {
    await ensureDurable(jsm, { stream: streams.BATCHES.name, durable: durables.workers(pool.id), filterSubject: subjects.batches(pool.id) });
    await jsm.streams.delete(BUCKET_STREAM);
    const request = testRequestSpec('outage-1');
    await publishEvent(
      js,
      subjects.dispatch(pool.id),
      makeEvent(
        { id: 'dispatch-outage-1', tenant: request.tenant, requestId: request.requestId, nowMs: Date.now() },
        { $case: 'requestDispatched', requestDispatched: { request, pool: pool.id, worker: '', workerHitTokens: 0 } },
      ),
    );
    // Past the fifth failed delivery, where the old batcher dead-lettered it.
    const delivered = await waitFor(
      'a sixth delivery of the dispatch, or its dead letter',
      async () => {
        const info = await jsm.consumers.info(streams.DISPATCH.name, `batcher-${pool.id}`);
        const deadLetters = (await jsm.streams.info(streams.DEADLETTER.name)).state.messages;
        return info.delivered.consumer_seq >= 6 || deadLetters > 0 ? { deliveries: info.delivered.consumer_seq, deadLetters } : undefined;
      },
      30_000,
    );
    expect(delivered.deadLetters).toBe(0);

    // The bucket is back: the next try hands the request off.
    await openBucket(nc, buckets.batching, BATCHING_BUCKET);
    const batch = await waitFor(
      'the request on BATCHES',
      async () => {
        const m = await jsm.streams.getMessage(streams.BATCHES.name, { last_by_subj: subjects.batches(pool.id) }).catch(() => null);
        const payload = m ? decodeEvent(m.data).payload : undefined;
        return payload?.$case === 'batchFormed' ? payload.batchFormed : undefined;
      },
      15_000,
    );
    expect(batch.requests.map((r) => r.requestId)).toEqual(['outage-1']);
    console.log(`handed off after ${delivered.deliveries}+ deliveries of the dispatch while the batching bucket was gone, 0 dead letters`);
  }, 60_000);
});

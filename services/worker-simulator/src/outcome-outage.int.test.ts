import { connectBus, jetstream, openBucket, provisionStreams, type JetStreamManager } from '@switchyard/bus';
import { buckets, durables, streams, subjects } from '@switchyard/contracts';
import { startNats, waitFor, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outcome, publishBatch, requestSpec, startSimulator, stored, terminalsOf, testPool, unique, type Harness } from './harness.fixture.js';

/*
 * A worker hands a batch back when an outcome of it could not be recorded, and runs it again a
 * second later. LIFECYCLE here cannot take writes for longer than five such tries (as through
 * the 5-10 s a 2.9 cluster takes to elect a stream leader). At JetStream's default of five
 * deliveries the batch then stayed on BATCHES for good and its request never ended; it must
 * end once LIFECYCLE is back.
 */

let h: Harness;
let jsm: JetStreamManager;
beforeAll(async () => {
  // Private even where NATS_URL names a shared server: the test deletes a stream.
  const nats: TestServer = await startNats({}, { ...process.env, NATS_URL: undefined });
  const nc = await connectBus({ url: nats.url, name: 'worker-outage-test' });
  const js = jetstream(nc);
  jsm = await js.jetstreamManager();
  await provisionStreams(jsm, Object.values(streams));
  const kv = await openBucket(nc, buckets.pools, { ttl: 10_000 });
  h = { nats, nc, js, kv, close: async () => (await nc.close(), await nats.dispose()) };
});
afterAll(async () => h?.close());

describe('a batch whose outcome cannot be recorded for longer than five deliveries', () => {
  it('is run again until LIFECYCLE is back, and its request ends once', async () => {
    const tenant = unique('t');
    const pool = testPool();
    const { sim } = await startSimulator(h, [pool], { ackWaitMs: 2_000 });
    try {
      await jsm.streams.delete(streams.LIFECYCLE.name);
      const request = requestSpec(tenant, 1);
      await publishBatch(h.js, pool.id, [request]);
      const deliveries = await waitFor(
        'a sixth delivery of the batch',
        async () => {
          const delivered = (await jsm.consumers.info(streams.BATCHES.name, durables.workers(pool.id))).delivered.consumer_seq;
          return delivered >= 6 ? delivered : undefined;
        },
        20_000,
      );

      await provisionStreams(jsm, [streams.LIFECYCLE]);
      const terminals = await waitFor(
        "the request's outcome on LIFECYCLE",
        async () => {
          const found = terminalsOf(await stored(h.js, streams.LIFECYCLE.name, subjects.requestTerminated('completed', tenant)));
          return found.length > 0 ? found : undefined;
        },
        15_000,
      );
      expect(terminals.map((t) => [t.requestId, t.outcome])).toEqual([[request.requestId, Outcome.OUTCOME_COMPLETED]]);
      console.log(`completed after ${deliveries}+ deliveries of its batch while LIFECYCLE was gone`);
    } finally {
      await sim.stop();
    }
  }, 60_000);
});

import { connectBus, jetstream, jetstreamManager, openBucket, provisionStreams, type KV, type NatsConnection } from '@switchyard/bus';
import { batchFormed, batchingKeys, decodeEvent, encodeEvent, makeEvent, streams, type RequestSpec } from '@switchyard/contracts';
import { startNats, type TestServer, testRequestSpec } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handOff } from './handoff.js';

let nats: TestServer;
let nc: NatsConnection;
let kv: KV;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'handoff-test' });
  await provisionStreams(await jetstreamManager(nc), [streams.BATCHES]);
  kv = await openBucket(nc, 'batching_test');
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const spec = (requestId: string): RequestSpec =>
  testRequestSpec(requestId, { model: 'm', prompt: 'p', promptTokens: 1, maxTokens: 1, feature: 'f', seed: 0, inbox: 'i', admittedUnixMs: 0 });

/** How many times each request id appears across every batch on `batches.<pool>`. */
async function appearances(pool: string): Promise<Map<string, number>> {
  const jsm = await jetstreamManager(nc);
  const { first_seq, last_seq } = (await jsm.streams.info(streams.BATCHES.name)).state;
  const counts = new Map<string, number>();
  for (let seq = first_seq; seq <= last_seq; seq++) {
    const msg = await jsm.streams.getMessage(streams.BATCHES.name, { seq }).catch(() => undefined);
    if (!msg || msg.subject !== `batches.${pool}`) continue;
    const formed = decodeEvent(msg.data).payload;
    if (formed?.$case !== 'batchFormed') continue;
    for (const r of formed.batchFormed.requests) counts.set(r.requestId, (counts.get(r.requestId) ?? 0) + 1);
  }
  return counts;
}

describe('exactly-once hand-off', () => {
  it('a batcher that re-batches redelivered requests after a crash sends each once', async () => {
    const js = jetstream(nc);
    // First incarnation: batch A went out, then the process died before acking.
    await handOff(js, kv, 'p1', 'batch-A', [spec('r1'), spec('r2')], 1);
    // Second incarnation gets r1 and r2 again, together with a new r3, and groups them differently.
    await handOff(js, kv, 'p1', 'batch-B', [spec('r2'), spec('r3')], 2);
    await handOff(js, kv, 'p1', 'batch-C', [spec('r1')], 3);
    expect(Object.fromEntries(await appearances('p1'))).toEqual({ r1: 1, r2: 1, r3: 1 });
  });

  it('a batch claimed but never published before the crash is sent by the next incarnation', async () => {
    const js = jetstream(nc);
    // The crash hit after batch D was stored and r4 claimed, before anything was published.
    const d = makeEvent(
      { id: 'batch-D', tenant: 'acme', requestId: 'r4', nowMs: 1 },
      { $case: 'batchFormed', batchFormed: batchFormed({ batchId: 'batch-D', pool: 'p2', requests: [spec('r4'), spec('r5')] }) },
    );
    await kv.put(batchingKeys.batch('batch-D'), encodeEvent(d));
    await kv.create(batchingKeys.claim('r4'), new TextEncoder().encode('batch-D'));
    await handOff(js, kv, 'p2', 'batch-E', [spec('r4'), spec('r5')], 2);
    expect(Object.fromEntries(await appearances('p2'))).toEqual({ r4: 1, r5: 1 });
  });

  it('a one-request batch is claimed, not stored, and a crash before or after publishing sends it once', async () => {
    const js = jetstream(nc);
    // Published, then the process died before acking r6's dispatch message.
    await handOff(js, kv, 'p3', 'batch-F', [spec('r6')], 1);
    expect([await kv.get(batchingKeys.batch('batch-F')), await kv.get(batchingKeys.batch('solo-batch-F'))]).toEqual([null, null]);
    // Claimed, then the process died before publishing r7's batch.
    await kv.create(batchingKeys.claim('r7'), new TextEncoder().encode('solo-batch-G'));
    // The next incarnation gets both again, with a new r8.
    await handOff(js, kv, 'p3', 'batch-H', [spec('r6'), spec('r7'), spec('r8')], 2);
    await handOff(js, kv, 'p3', 'batch-I', [spec('r6')], 3);
    expect(Object.fromEntries(await appearances('p3'))).toEqual({ r6: 1, r7: 1, r8: 1 });
  });
});

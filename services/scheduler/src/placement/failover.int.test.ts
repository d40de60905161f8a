import { connectBus, jetstream, openBucket, provisionStreams, publishEvent, type JetStreamManager, type KV, type NatsConnection } from '@switchyard/bus';
import { batchFormed, batchingKeys, makeEvent, streams, subjects, type RequestSpec } from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { startNats, type TestServer, testRequestSpec } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFailover, type FailoverStage } from './failover.js';

let nats: TestServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let kv: KV;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'failover-test' });
  jsm = await jetstream(nc).jetstreamManager();
  await provisionStreams(jsm, [streams.DISPATCH, streams.BATCHES]);
  kv = await openBucket(nc, 'batching_failover_test');
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const spec = (requestId: string): RequestSpec =>
  testRequestSpec(requestId, { prompt: 'p', promptTokens: 10, maxTokens: 4, feature: 'f', seed: 0, inbox: 'i', admittedUnixMs: 1 });
const js = () => jetstream(nc);
const dispatch = (pool: string, r: RequestSpec) =>
  publishEvent(
    js(),
    subjects.dispatch(pool),
    makeEvent(
      { id: `dispatch-${r.requestId}`, tenant: 'acme', requestId: r.requestId, nowMs: 1 },
      { $case: 'requestDispatched', requestDispatched: { request: r, pool, worker: '', workerHitTokens: 0 } },
    ),
  );
const batch = (pool: string, batchId: string, rs: RequestSpec[]) =>
  publishEvent(
    js(),
    subjects.batches(pool),
    makeEvent(
      { id: batchId, tenant: 'acme', requestId: rs[0]!.requestId, nowMs: 1 },
      { $case: 'batchFormed', batchFormed: batchFormed({ batchId, pool, requests: rs }) },
    ),
  );
const count = async (stream: string, subject: string) => (await jsm.streams.info(stream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;

describe('failover sweep', () => {
  it('moves queued and batched requests off a dead pool once, releasing only the claims its batches hold', async () => {
    const pool = 'dead-a';
    await dispatch(pool, spec('q1'));
    await dispatch(pool, spec('q2-done'));
    await batch(pool, 'batch-1', [spec('b1'), spec('b2-elsewhere'), spec('b3-unclaimed')]);
    await kv.put(batchingKeys.claim('b1'), new TextEncoder().encode('batch-1'));
    await kv.put(batchingKeys.claim('b2-elsewhere'), new TextEncoder().encode('batch-other'));

    const moves: Array<{ id: string; stage: FailoverStage; dispatchId: string }> = [];
    const failover = createFailover({
      jsm,
      batchingKv: kv,
      hasEnded: (id) => id === 'q2-done',
      logger: createLogger({ service: 't', level: 'silent' }),
      replace: async (r, from, stage, dispatchId) => {
        expect(from).toBe(pool);
        moves.push({ id: r.requestId, stage, dispatchId });
        return 'alive-b';
      },
    });
    expect(await failover.sweep(pool)).toBe(3);
    expect(moves.map((m) => [m.id, m.stage])).toEqual([
      ['q1', 'queued'],
      ['b1', 'batched'],
      ['b3-unclaimed', 'batched'],
    ]);
    // The claim batch-1 held is released for the new pool's batcher; another batch's claim is left alone.
    expect(await kv.get(batchingKeys.claim('b1')).then((e) => e?.operation)).not.toBe('PUT');
    expect(new TextDecoder().decode((await kv.get(batchingKeys.claim('b2-elsewhere')))!.value)).toBe('batch-other');
    expect([await count(streams.DISPATCH.name, subjects.dispatch(pool)), await count(streams.BATCHES.name, subjects.batches(pool))]).toEqual([0, 0]);

    // A second sweep finds nothing; the ids it dispatched under are derived from where it found them.
    expect(await failover.sweep(pool)).toBe(0);
    expect(new Set(moves.map((m) => m.dispatchId)).size).toBe(3);
    expect(moves[0]!.dispatchId).toMatch(/^dispatch-q1-from-D\d+$/);
  });

  it('leaves everything in place when no pool can take the work, and moves it at the next sweep', async () => {
    const pool = 'dead-b';
    await dispatch(pool, spec('w1'));
    let room = false;
    const failover = createFailover({
      jsm,
      batchingKv: kv,
      hasEnded: () => false,
      logger: createLogger({ service: 't', level: 'silent' }),
      replace: async () => (room ? 'alive-b' : undefined),
    });
    expect(await failover.sweep(pool)).toBe(0);
    expect(await count(streams.DISPATCH.name, subjects.dispatch(pool))).toBe(1);
    room = true;
    expect(await failover.sweep(pool)).toBe(1);
    expect(await count(streams.DISPATCH.name, subjects.dispatch(pool))).toBe(0);
  });
});

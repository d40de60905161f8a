import { startNats, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCHING_BUCKET, claimOf, claimRequest, releaseClaim } from './batch-claims.js';
import { connectBus } from './connect.js';
import { openBucket } from './kv.js';
import type { NatsConnection } from '@nats-io/transport-node';

let nats: TestServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'claims-test' });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const bucket = () => openBucket(nc, `batching-${Math.random().toString(36).slice(2, 8)}`);

describe('batch claims', () => {
  it('a request is held by the first batch that claims it, and only that batch can release it', async () => {
    const kv = await bucket();
    expect(await claimRequest(kv, 'r1', 'batch-A')).toBe('batch-A');
    expect(await claimRequest(kv, 'r1', 'batch-B')).toBe('batch-A');
    expect(await releaseClaim(kv, 'r1', 'batch-B')).toBe(false);
    expect(await claimOf(kv, 'r1')).toBe('batch-A');
    expect(await releaseClaim(kv, 'r1', 'batch-A')).toBe(true);
    expect(await claimRequest(kv, 'r1', 'batch-B')).toBe('batch-B');
  });

  it('a claim that could not be made, with none there, is an error and not a release (the request would be dropped)', async () => {
    // The server refuses the create (value too large) and stores nothing, as when a create
    // is lost with a restarting nats-server.
    const kv = await openBucket(nc, `batching-${Math.random().toString(36).slice(2, 8)}`, { maxValueSize: 100 });
    await expect(claimRequest(kv, 'r1', `batch-${'x'.repeat(120)}`)).rejects.toThrow();
    expect(await claimOf(kv, 'r1')).toBeUndefined();
    expect(await claimRequest(kv, 'r1', 'batch-A')).toBe('batch-A');
  });

  it('a request never claimed is free to release and has no batch', async () => {
    const kv = await bucket();
    expect(await claimOf(kv, 'nobody')).toBeUndefined();
    expect(await releaseClaim(kv, 'nobody', 'batch-A')).toBe(true);
  });

  it('reads claims from the stream leader, never by a direct get that any replica (perhaps one behind) may answer', async () => {
    const name = () => `batching-${Math.random().toString(36).slice(2, 8)}`;
    // Every direct get the client sends crosses this subject; the leader-routed get does not.
    const directGets = (bucket: string) => {
      const sub = nc.subscribe(`$JS.API.DIRECT.GET.KV_${bucket}.>`);
      let n = 0;
      void (async () => {
        for await (const _ of sub) n++;
      })();
      return { count: async () => (await nc.flush(), n), stop: () => sub.unsubscribe() };
    };
    const plain = name();
    const plainGets = directGets(plain);
    const plainKv = await openBucket(nc, plain);
    await claimRequest(plainKv, 'r1', 'batch-A');
    expect(await claimOf(plainKv, 'r1')).toBe('batch-A');
    // The probe sees the default client's direct gets: otherwise the next check proves nothing.
    expect(await plainGets.count()).toBeGreaterThan(0);
    plainGets.stop();

    const leaderOnly = name();
    const gets = directGets(leaderOnly);
    const kv = await openBucket(nc, leaderOnly, BATCHING_BUCKET);
    expect(await claimRequest(kv, 'r1', 'batch-A')).toBe('batch-A');
    expect(await claimRequest(kv, 'r1', 'batch-B')).toBe('batch-A');
    expect(await claimOf(kv, 'r1')).toBe('batch-A');
    expect(await releaseClaim(kv, 'r1', 'batch-A')).toBe(true);
    expect(await gets.count()).toBe(0);
    gets.stop();
  });
});

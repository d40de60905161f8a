import { startNats, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimOf, claimRequest, releaseClaim } from './batch-claims.js';
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
});

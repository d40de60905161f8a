import { connectBus, openBucket, type NatsConnection } from '@switchyard/bus';
import { startNats, waitFor, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from './keyring.js';
import { openTenantStore } from './tenant-store.js';

let nats: TestServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'tenant-store-test' });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe('tenant store', () => {
  it('propagates a new key and its revocation to another replica without restart', async () => {
    const bucket = `tenants_${Math.random().toString(36).slice(2, 8)}`;
    const admin = await openTenantStore(await openBucket(nc, bucket));
    const replica = await openTenantStore(await openBucket(nc, bucket));
    await admin.putTenant({ tenant: 'acme', limits: { realtime: { requestsPerMinute: 5, tokensPerMinute: 1000 } } });
    await admin.putKey({ keyId: 'acme-ci', tenant: 'acme', keyHash: hashApiKey('sy_secret'), tiers: ['batch'], feature: 'ci' });

    const principal = await waitFor('key on the replica', () => {
      try {
        return replica.keyring.authenticate('Bearer sy_secret');
      } catch {
        return undefined;
      }
    });
    expect(principal).toMatchObject({ tenant: 'acme', tiers: ['batch'], feature: 'ci' });
    expect(replica.settings('acme')?.limits.realtime?.requestsPerMinute).toBe(5);

    expect(await admin.revokeKey('acme-ci')).toBe(true);
    await waitFor('revocation on the replica', () => {
      try {
        replica.keyring.authenticate('Bearer sy_secret');
        return undefined;
      } catch (e) {
        return e;
      }
    });
    const late = await openTenantStore(await openBucket(nc, bucket));
    expect(() => late.keyring.authenticate('Bearer sy_secret')).toThrow(/revoked/);
    expect(late.listKeys('acme').map((k) => k.keyId)).toEqual(['acme-ci']);
    await Promise.all([admin.stop(), replica.stop(), late.stop()]);
  });

  it('rejects an invalid tenant document before it reaches the bucket', async () => {
    const store = await openTenantStore(await openBucket(nc, `tenants_${Math.random().toString(36).slice(2, 8)}`));
    await expect(store.putTenant({ tenant: 'bad tenant!' })).rejects.toThrow();
    await store.stop();
  });
});

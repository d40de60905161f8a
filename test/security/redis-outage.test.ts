import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { AdmissionServiceClient, RETRY_AFTER_MS, Tier } from '@switchyard/contracts';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;
let admission: AdmissionServiceClient;

beforeAll(async () => {
  system = await startSystem();
  admission = new AdmissionServiceClient(system.admissionAddress, credentials.createInsecure());
}, 60_000);
afterAll(async () => {
  admission?.close();
  await system?.stop();
});

const complete = () =>
  new Promise<ServiceError | null>((resolve) => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${system.apiKey}`);
    admission.complete(
      { model: 'llama-3.1-8b', prompt: 'hi', maxTokens: 2, tier: Tier.TIER_UNSPECIFIED, idempotencyKey: '', feature: '', seed: 0, stop: [] },
      m,
      { deadline: Date.now() + 10_000 },
      (e) => resolve(e),
    );
  });

const post = () =>
  fetch(`${system.httpUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${system.apiKey}` },
    body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
  });

describe('Redis down', () => {
  it('fails calls quickly as UNAVAILABLE / 503 with a retry hint, and serves again once Redis is back', async () => {
    expect(await complete()).toBeNull();
    await system.servers.redis.process!.stop();
    try {
      // The first call after the loss finds the connection gone; later ones find it reconnecting.
      const took: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const err = await complete();
        took.push(Date.now() - t0);
        expect(Date.now() - t0).toBeLessThan(1_000);
        expect(err).toMatchObject({ code: status.UNAVAILABLE, details: expect.stringContaining('Redis') });
        expect(Number(err!.metadata.get(RETRY_AFTER_MS)[0])).toBeGreaterThan(0);

        const h0 = Date.now();
        const res = await post();
        took.push(Date.now() - h0);
        expect(Date.now() - h0).toBeLessThan(1_000);
        expect(res.status).toBe(503);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(await res.json()).toMatchObject({ error: { code: 'unavailable' } });
      }
      console.log(`calls with Redis down answered in ${took.join(', ')} ms (gRPC, HTTP alternating)`);
    } finally {
      await system.servers.redis.process!.restart();
    }
    await waitFor('calls served again', async () => ((await complete()) === null ? true : undefined));
  });
});

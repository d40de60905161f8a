import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { AdmissionServiceClient, RETRY_AFTER_MS, Tier, type CompleteResponse } from '@switchyard/contracts';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;
let admission: AdmissionServiceClient;

beforeAll(async () => {
  // Real-time workers, so a request can still be running when Redis goes; Redis keeps an
  // append-only file, so it comes back with the idempotency keys it held.
  system = await startSystem({ workerSpeed: 1, redis: { appendOnly: true } });
  admission = new AdmissionServiceClient(system.admissionAddress, credentials.createInsecure());
}, 60_000);
afterAll(async () => {
  admission?.close();
  await system?.stop();
});

const completeWith = (o: { maxTokens: number; idempotencyKey: string }) =>
  new Promise<{ error: ServiceError | null; response?: CompleteResponse }>((resolve) => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${system.apiKey}`);
    admission.complete(
      { model: 'llama-3.1-8b', prompt: 'hi', tier: Tier.TIER_UNSPECIFIED, feature: '', seed: 0, stop: [], ...o },
      m,
      { deadline: Date.now() + 10_000 },
      (error, response) => resolve({ error, response }),
    );
  });
const complete = async () => (await completeWith({ maxTokens: 2, idempotencyKey: '' })).error;

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

  it('answers a call that completes while Redis is down, and keeps its result for repeats of its idempotency key', async () => {
    // ~100 decode steps at real speed: the request is still running when Redis goes.
    const admitted = new Promise<void>((resolve) => system.nc.subscribe('requests.admitted.>', { max: 1, callback: () => resolve() }));
    const first = completeWith({ maxTokens: 100, idempotencyKey: 'while-redis-is-down' });
    await admitted;
    await system.servers.redis.process!.kill();
    let back = false;
    try {
      // It ran and is billed: its caller gets the answer, not UNAVAILABLE because no repeat could be served yet.
      const { error, response } = await first;
      expect(error).toBeNull();
      expect(response!.usage!.outputTokens).toBeGreaterThan(0);
      await system.servers.redis.process!.restart();
      back = true;
      // A repeat joins it: the same request and text, not a second request billed again.
      const repeat = await waitFor('the repeat answered', async () => {
        const r = await completeWith({ maxTokens: 100, idempotencyKey: 'while-redis-is-down' });
        return r.error?.code === status.UNAVAILABLE ? undefined : r;
      });
      expect(repeat.error).toBeNull();
      expect({ requestId: repeat.response!.requestId, text: repeat.response!.text }).toEqual({ requestId: response!.requestId, text: response!.text });
    } finally {
      if (!back) await system.servers.redis.process!.restart();
    }
  });
});

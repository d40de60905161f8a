import { Client, credentials } from '@grpc/grpc-js';
import { createSwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * kill -9 of nats-server (private, file storage) under a steady load of 10 callers, back
 * after 2 s on the same port and data: every service's consumers, KV watches and
 * subscriptions must resume, so requests succeed again within 5 s of the server's return.
 */

const CALLERS = 10;
const DOWN_MS = 2_000;

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem();
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

/** grpc.health.v1 Check for the whole server: 1 SERVING, 2 NOT_SERVING (raw protobuf, one varint field). */
function healthOf(client: Client): Promise<number> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 2_000 },
      (e, res) => (e ? reject(e) : resolve(res && res.length >= 2 ? res[1]! : 0)),
    ),
  );
}

describe('chaos: kill -9 of nats-server under load', () => {
  it('serves requests again within 5 s of the server coming back, three times over', async () => {
    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    const health = new Client(system.admissionAddress, credentials.createInsecure());
    const successes: number[] = [];
    let running = true;
    const caller = async () => {
      while (running) {
        try {
          await client.complete({ model: 'llama-3.1-8b', prompt: 'hello through the outage', maxTokens: 8, timeoutMs: 3_000 });
          successes.push(Date.now());
        } catch {
          await sleep(50);
        }
      }
    };
    const callers = Array.from({ length: CALLERS }, caller);
    try {
      for (let round = 1; round <= 3; round++) {
        await sleep(2_000);
        const before = successes.length;
        expect(before, 'requests succeed before the outage').toBeGreaterThan(0);
        await system.servers.nats.process!.kill();
        // Health tells the truth while the bus is down, and calls are refused at once, not hung.
        await waitFor('NOT_SERVING while NATS is down', async () => ((await healthOf(health)) === 2 ? true : undefined), DOWN_MS);
        const t0 = Date.now();
        await expect(client.complete({ model: 'llama-3.1-8b', prompt: 'anyone?', maxTokens: 4, timeoutMs: 5_000 })).rejects.toMatchObject({ code: 14 });
        expect(Date.now() - t0).toBeLessThan(1_000);
        await sleep(DOWN_MS);
        await system.servers.nats.process!.restart();
        const backAt = Date.now();
        // Requests started after the return must succeed; a deadline, not a fixed sleep.
        const deadline = backAt + 5_000;
        while (Date.now() < deadline && !successes.some((t) => t > backAt + 100)) await sleep(50);
        const first = successes.find((t) => t > backAt + 100);
        console.log(`round ${round}: first success ${first ? first - backAt : 'none'} ms after nats-server returned`);
        expect(first, `a request succeeds within 5 s of nats-server's return (round ${round})`).toBeDefined();
        expect(await healthOf(health)).toBe(1);
      }
    } finally {
      running = false;
      await Promise.all(callers);
      client.close();
      health.close();
    }
  }, 120_000);
});

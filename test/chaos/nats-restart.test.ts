import { createSwitchyardClient } from '@switchyard/sdk';
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

describe('chaos: kill -9 of nats-server under load', () => {
  it('serves requests again within 5 s of the server coming back, three times over', async () => {
    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
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
        await sleep(DOWN_MS);
        await system.servers.nats.process!.restart();
        const backAt = Date.now();
        // Requests started after the return must succeed; a deadline, not a fixed sleep.
        const deadline = backAt + 5_000;
        while (Date.now() < deadline && !successes.some((t) => t > backAt + 100)) await sleep(50);
        const first = successes.find((t) => t > backAt + 100);
        console.log(`round ${round}: first success ${first ? first - backAt : 'none'} ms after nats-server returned`);
        expect(first, `a request succeeds within 5 s of nats-server's return (round ${round})`).toBeDefined();
      }
    } finally {
      running = false;
      await Promise.all(callers);
      client.close();
    }
  }, 120_000);
});

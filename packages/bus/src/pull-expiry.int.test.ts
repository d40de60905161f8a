import { jetstream, jetstreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startNats, waitFor, type TestServer } from '@switchyard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus } from './connect.js';

/*
 * nats-server 2.9 drops a waiting pull without a word (no 408) when a message reaches the
 * consumer after the pull's expiry but before the server's own expiry timer has run. The
 * client counted the pull as open and waited for two missed idle heartbeats before pulling
 * again: 2 s with the bus's settings, and the 2 s p99 seen in `pnpm bench --quick` and in the
 * abuse test. The patched client (patches/@nats-io__jetstream) takes a pull that is neither
 * filled nor ended 250 ms past its expiry as dropped and pulls again.
 *
 * The test makes the race happen on purpose: it stops nats-server (SIGSTOP) across the pull's
 * expiry and sends a message meanwhile, so when the server runs again the message and the
 * overdue expiry are ready together. Heartbeats here are 2.5 s (the client's default for a
 * 5 s pull), so the unpatched client would wait about 5 s.
 */

const EXPIRES_MS = 5_000;

let nats: TestServer;
let nc: NatsConnection;
let publisher: NatsConnection;
beforeAll(async () => {
  // Private even where NATS_URL names a shared server: this test stops it.
  nats = await startNats({}, { ...process.env, NATS_URL: undefined });
  nc = await connectBus({ url: nats.url, name: 'pull-expiry-test' });
  publisher = await connectBus({ url: nats.url, name: 'pull-expiry-publisher' });
});
afterAll(async () => {
  if (nats?.process?.pid) process.kill(nats.process.pid, 'SIGCONT');
  await publisher?.close();
  await nc?.close();
  await nats?.dispose();
});

describe('a pull the server dropped at its expiry', () => {
  it('is pulled again at once, not after two missed heartbeats', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'EXPIRY', subjects: ['expiry.>'] });
    await jsm.consumers.add('EXPIRY', { durable_name: 'c', ack_policy: 'explicit' as never });
    const consumer = await jetstream(nc).consumers.get('EXPIRY', 'c');
    const pid = nats.process!.pid!;

    const delays: number[] = [];
    // Five rounds: the server takes the silent path in about half of them.
    for (let round = 0; round < 5; round++) {
      const received: Array<{ body: string; atMs: number }> = [];
      let pulledAtMs = 0;
      const messages: ConsumerMessages = await consumer.consume({ max_messages: 8, expires: EXPIRES_MS });
      void (async () => {
        for await (const s of messages.status()) if (s.type === 'next' && pulledAtMs === 0) pulledAtMs = Date.now();
      })();
      void (async () => {
        for await (const m of messages) {
          received.push({ body: m.string(), atMs: Date.now() });
          m.ack();
        }
      })();
      await waitFor('the first pull sent', () => (pulledAtMs > 0 ? true : undefined));

      // Stop the server 150 ms before the pull expires, send a message, resume it 150 ms after.
      await sleep(pulledAtMs + EXPIRES_MS - 150 - Date.now());
      process.kill(pid, 'SIGSTOP');
      publisher.publish('expiry.x', `round ${round}`);
      await sleep(pulledAtMs + EXPIRES_MS + 150 - Date.now());
      process.kill(pid, 'SIGCONT');
      const resumedAtMs = Date.now();

      const got = await waitFor(`round ${round}'s message`, () => received.find((r) => r.body === `round ${round}`), 15_000);
      delays.push(got.atMs - resumedAtMs);
      await messages.close();
    }
    console.log(`delivery after the server resumed, per round: ${delays.map((d) => `${d} ms`).join(', ')}`);
    // Patched: within ~250 ms of the expiry; unpatched: two missed 2.5 s heartbeats, ~5 s.
    expect(Math.max(...delays)).toBeLessThan(1_500);
  }, 60_000);
});

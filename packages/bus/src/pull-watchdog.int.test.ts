import { jetstream, jetstreamManager, DeliverPolicy } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeEvent, encodeEvent, makeEvent, type StreamSpec } from '@switchyard/contracts';
import { startNats, waitFor, type TestServer } from '@switchyard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus } from './connect.js';
import { consumeDurable } from './consume.js';
import { followOrdered } from './ordered.js';
import { provisionStreams } from './provision.js';

/*
 * nats-server 2.9 drops a waiting pull without a word (no 408) when a message reaches the
 * consumer after the pull's expiry but before the server's own expiry timer has run; the
 * client counted the pull as open and waited for two missed idle heartbeats before pulling
 * again (2 s for consumeDurable, 5 s for admission's terminal watch).
 *
 * These tests make the race happen on purpose: nats-server is stopped (SIGSTOP) across a
 * pull's expiry while a message is sent, so when it runs again the message and the overdue
 * expiry are ready together. The server takes the silent path in some rounds only (a fifth
 * to a half here), so rounds go on until RACES_WANTED of them raced. A second connection
 * sees what the server does: the consumers' pulls on their API subject, and the 408s (or
 * their absence) on the pulls' reply subject.
 */

const EXPIRES_MS = 2_000;
const RACES_WANTED = 2;
const MOST_ROUNDS = 30;

let nats: TestServer;
let nc: NatsConnection;
let observer: NatsConnection;
beforeAll(async () => {
  // Private even where NATS_URL names a shared server: these tests stop it.
  nats = await startNats({}, { ...process.env, NATS_URL: undefined });
  nc = await connectBus({ url: nats.url, name: 'pull-watchdog-test' });
  observer = await connectBus({ url: nats.url, name: 'pull-watchdog-observer' });
});
afterAll(async () => {
  if (nats?.process?.pid) process.kill(nats.process.pid, 'SIGCONT');
  await observer?.close();
  await nc?.close();
  await nats?.dispose();
});

function stream(): StreamSpec & { subject: string } {
  const id = Math.random().toString(36).slice(2, 8);
  return { name: `W_${id}`, subjects: [`w${id}.>`], subject: `w${id}.x`, retention: 'limits', maxAgeMs: 60_000, duplicateWindowMs: 60_000 };
}

const eventBytes = (id: string) =>
  encodeEvent(
    makeEvent(
      { id, tenant: 'acme', requestId: id, nowMs: 1 },
      {
        $case: 'decision',
        decision: { service: 't', action: 'a', reason: '', chosen: '', candidates: [], categories: [], ruleIds: [], policyVersion: '', latencyMs: 0, user: '' },
      },
    ),
  );

interface SeenPull {
  readonly atMs: number;
  readonly reply: string;
}

/** The pulls any consumer of `streamName` sent, and the 408s the server answered them with. */
function watchServer(streamName: string) {
  const pulls: SeenPull[] = [];
  const timeouts: Array<{ atMs: number; reply: string }> = [];
  const pullSub = observer.subscribe(`$JS.API.CONSUMER.MSG.NEXT.${streamName}.>`, {
    callback: (_, m) => void pulls.push({ atMs: Date.now(), reply: m.reply ?? '' }),
  });
  const inboxSub = observer.subscribe('_INBOX.>', {
    callback: (_, m) => {
      if (m.headers?.code === 408) timeouts.push({ atMs: Date.now(), reply: m.subject });
    },
  });
  return {
    pulls,
    timeouts,
    stop() {
      pullSub.unsubscribe();
      inboxSub.unsubscribe();
    },
  };
}

interface Round {
  /** Whether the server dropped the pull without a 408 (the race this is about). */
  readonly raced: boolean;
  /** From the server's resumption to the handler seeing the message sent while it was stopped. */
  readonly delayMs: number;
}

/**
 * Per round: waits for a pull, stops the server across that pull's expiry, sends a message
 * meanwhile, and measures how long after the server resumed the message was handled.
 */
async function raceExpiries(spec: { name: string; subject: string }, handled: Map<string, number>): Promise<Round[]> {
  const server = watchServer(spec.name);
  const pid = nats.process!.pid!;
  const rounds: Round[] = [];
  try {
    while (rounds.filter((r) => r.raced).length < RACES_WANTED && rounds.length < MOST_ROUNDS) {
      const seen = server.pulls.length;
      const pull = await waitFor(`a pull before round ${rounds.length}`, () => server.pulls[seen], EXPIRES_MS + 5_000);
      await sleep(pull.atMs + EXPIRES_MS - 150 - Date.now());
      const stoppedAt = Date.now();
      process.kill(pid, 'SIGSTOP');
      const id = `round-${rounds.length}`;
      // A core publish: the client buffers it while the server is stopped, the stream stores it.
      observer.publish(spec.subject, eventBytes(id));
      await sleep(pull.atMs + EXPIRES_MS + 150 - Date.now());
      process.kill(pid, 'SIGCONT');
      const resumedAt = Date.now();
      const at = await waitFor(`${id} handled`, () => handled.get(id), 15_000);
      // Let the pull that took the message settle before the next round looks for a new one.
      await sleep(300);
      const answered = server.timeouts.some((t) => t.reply === pull.reply && t.atMs >= stoppedAt);
      rounds.push({ raced: !answered, delayMs: at - resumedAt });
    }
  } finally {
    server.stop();
  }
  return rounds;
}

function report(who: string, rounds: readonly Round[]): number[] {
  const raced = rounds.filter((r) => r.raced).map((r) => r.delayMs);
  const answered = rounds.filter((r) => !r.raced).map((r) => r.delayMs);
  console.log(
    `${who}: ${rounds.length} rounds; dropped pulls, handled after the server resumed: ${raced.map((d) => `${d} ms`).join(', ')}; answered pulls: ${answered.map((d) => `${d} ms`).join(', ')}`,
  );
  return raced;
}

describe('a pull the server dropped at its expiry', () => {
  it('is pulled again by a durable consumer within a second, not after two missed heartbeats', async () => {
    const spec = stream();
    await provisionStreams(await jetstreamManager(nc), [spec]);
    const handled = new Map<string, number>();
    const consumer = await consumeDurable({
      js: jetstream(nc),
      stream: spec.name,
      durable: 'watched',
      pullExpiresMs: EXPIRES_MS,
      handle: async (d) => void handled.set(d.event.envelope!.id, Date.now()),
    });
    try {
      const raced = report('durable consumer', await raceExpiries(spec, handled));
      expect(raced.length, 'the server never dropped a pull: the race was not produced').toBe(RACES_WANTED);
      // Before the watchdog: two missed 1 s heartbeats, 2,000-3,000 ms.
      expect(Math.max(...raced)).toBeLessThan(1_200);
    } finally {
      await consumer.stop();
    }
  }, 180_000);

  it('is pulled again by an ordered follower (admission terminal watch) within a second, not after two missed heartbeats', async () => {
    const spec = stream();
    await provisionStreams(await jetstreamManager(nc), [spec]);
    const handled = new Map<string, number>();
    const follower = await followOrdered(jetstream(nc), { stream: spec.name, deliverPolicy: DeliverPolicy.New, expiresMs: EXPIRES_MS }, (msg) => {
      // Keyed by the event's id, as the durable consumer's are: a message seen twice keeps its first time.
      const id = decodeEvent(msg.data).envelope!.id;
      if (!handled.has(id)) handled.set(id, Date.now());
    });
    try {
      const raced = report('ordered follower', await raceExpiries(spec, handled));
      expect(raced.length, 'the server never dropped a pull: the race was not produced').toBe(RACES_WANTED);
      // Before the watchdog: two missed 1 s heartbeats (the client's default: half of expires).
      expect(Math.max(...raced)).toBeLessThan(1_200);
    } finally {
      await follower.stop();
    }
  }, 180_000);
});

describe('the watchdog on a healthy consumer', () => {
  it('never pulls beyond the prefetch: idle, or with every handler slot busy and quiet spells between messages', async () => {
    const spec = stream();
    const jsm = await jetstreamManager(nc);
    await provisionStreams(jsm, [spec]);
    const server = watchServer(spec.name);
    const handled: string[] = [];
    const consumer = await consumeDurable({
      js: jetstream(nc),
      stream: spec.name,
      durable: 'slow',
      pullExpiresMs: EXPIRES_MS,
      // One slot and 400 ms a message: the loop holds a message it has no slot for, and nothing
      // arrives for longer than the watchdog's quiet spell.
      handle: async (d) => {
        await sleep(400);
        handled.push(d.event.envelope!.id);
      },
    });
    try {
      // Idle across three expiries: the first pull and one after each expiry, nothing more.
      const idleSpanMs = 3 * EXPIRES_MS + 500;
      await sleep(idleSpanMs);
      const idlePulls = server.pulls.length;

      const js = jetstream(nc);
      for (let i = 0; i < 20; i++) await js.publish(spec.subject, eventBytes(`slow-${i}`), { msgID: `slow-${i}` });
      let mostHeld = 0;
      await waitFor(
        'all 20 handled',
        async () => {
          mostHeld = Math.max(mostHeld, (await jsm.consumers.info(spec.name, 'slow')).num_ack_pending);
          return handled.length === 20 ? true : undefined;
        },
        30_000,
      );
      console.log(`idle pulls over ${idleSpanMs} ms: ${idlePulls}; most messages held at once under load: ${mostHeld}`);
      expect(idlePulls).toBeLessThanOrEqual(4);
      // consumeDurable's prefetch with one slot: 8 messages, plus the one in the handler. A
      // doubled pull would hold up to 17.
      expect(mostHeld).toBeLessThanOrEqual(9);
      expect(new Set(handled).size).toBe(20);
    } finally {
      server.stop();
      await consumer.stop();
    }
  }, 60_000);
});

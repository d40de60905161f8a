import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamSpec } from '@switchyard/contracts';
import { startNats, type TestServer } from '@switchyard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus } from './connect.js';
import { ensureDurable, provisionStreams } from './provision.js';
import { purgeAckedLeftovers } from './work-queue-leftovers.js';

let nats: TestServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'work-queue-leftovers-test' });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe('leftovers of a work-queue stream', () => {
  it('are removed below the ack floor, while every message still to deliver or awaiting its ack stays', async () => {
    const id = Math.random().toString(36).slice(2, 8);
    const spec: StreamSpec = { name: `WQ_${id}`, subjects: [`wq${id}.>`], retention: 'workqueue', maxAgeMs: 60_000, duplicateWindowMs: 60_000 };
    const [mine, other] = [`wq${id}.mine`, `wq${id}.other`];
    const jsm = await jetstreamManager(nc);
    await provisionStreams(jsm, [spec]);
    // One delivery each and a 1 s ack wait, so a message can be left behind on purpose.
    await ensureDurable(jsm, { stream: spec.name, durable: 'mine', filterSubject: mine, maxDeliver: 1, ackWaitMs: 1_000 });
    const js = jetstream(nc);
    const consumer = await js.consumers.get(spec.name, 'mine');
    const take = async () => {
      const got = [];
      for await (const m of await consumer.fetch({ max_messages: 1, expires: 1_000 })) got.push(m);
      return got[0];
    };
    const held = async () => (await jsm.streams.info(spec.name, { subjects_filter: '>' })).state.subjects ?? {};

    // A leftover: delivered once, never acked, out of deliveries; then a later one is acked, so
    // the floor passes it. JetStream will not deliver it again, yet the stream keeps it (as
    // nats-server 2.9 also keeps messages acked just before a kill -9).
    await js.publish(mine, 'left behind');
    expect((await take())?.string()).toBe('left behind');
    await sleep(1_500);
    expect(await take()).toBeUndefined();
    await js.publish(mine, 'done');
    await (await take())!.ackAck();
    // Still to do: one awaiting its ack, one not delivered yet, and one on another subject.
    await js.publish(mine, 'running');
    const running = (await take())!;
    await js.publish(mine, 'queued');
    await js.publish(other, 'not mine');
    expect(await held()).toEqual({ [mine]: 3, [other]: 1 });

    const purged = await purgeAckedLeftovers(jsm, spec.name, await jsm.consumers.info(spec.name, 'mine'));

    expect(purged).toBe(1);
    expect(await held()).toEqual({ [mine]: 2, [other]: 1 });
    // Nothing that was still to do is lost: the running one is acked, the queued one delivered.
    await running.ackAck();
    expect((await take())?.string()).toBe('queued');
  }, 30_000);

  it('leaves a stream alone for a consumer that has acked nothing yet', async () => {
    const id = Math.random().toString(36).slice(2, 8);
    const spec: StreamSpec = { name: `WQ_${id}`, subjects: [`wq${id}.>`], retention: 'workqueue', maxAgeMs: 60_000, duplicateWindowMs: 60_000 };
    const jsm = await jetstreamManager(nc);
    await provisionStreams(jsm, [spec]);
    await ensureDurable(jsm, { stream: spec.name, durable: 'fresh', filterSubject: `wq${id}.a` });
    await jetstream(nc).publish(`wq${id}.a`, 'queued');
    expect(await purgeAckedLeftovers(jsm, spec.name, await jsm.consumers.info(spec.name, 'fresh'))).toBe(0);
    expect((await jsm.streams.info(spec.name)).state.messages).toBe(1);
  });
});

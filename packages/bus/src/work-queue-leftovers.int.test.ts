import { jetstream, jetstreamManager, type Consumer, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { StreamSpec } from '@switchyard/contracts';
import { startNats, type TestServer } from '@switchyard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus } from './connect.js';
import { ensureDurable, provisionStreams } from './provision.js';
import { removeAckedLeftovers } from './work-queue-leftovers.js';

let nats: TestServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'work-queue-leftovers-test' });
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

async function workQueue() {
  const id = Math.random().toString(36).slice(2, 8);
  const spec: StreamSpec = { name: `WQ_${id}`, subjects: [`wq${id}.>`], retention: 'workqueue', maxAgeMs: 60_000, duplicateWindowMs: 60_000 };
  await provisionStreams(jsm, [spec]);
  const held = async () => (await jsm.streams.info(spec.name, { subjects_filter: '>' })).state.subjects ?? {};
  return { stream: spec.name, mine: `wq${id}.mine`, other: `wq${id}.other`, held };
}

const take = async (consumer: Consumer) => {
  for await (const m of await consumer.fetch({ max_messages: 1, expires: 1_000 })) return m;
  return undefined;
};

describe('leftovers of a work-queue stream', () => {
  it('are removed below the ack floor, while every message still to deliver or awaiting its ack stays and is delivered', async () => {
    const { stream, mine, other, held } = await workQueue();
    // Two deliveries each and a 1 s ack wait, so a message can be left behind on purpose.
    await ensureDurable(jsm, { stream, durable: 'mine', filterSubject: mine, maxDeliver: 2, ackWaitMs: 1_000 });
    const js = jetstream(nc);
    const consumer = await js.consumers.get(stream, 'mine');

    // A leftover: delivered twice, never acked, out of deliveries; then a later one is acked, so
    // the floor passes it. JetStream will not deliver it again, yet the stream keeps it (as
    // nats-server 2.9 also keeps messages acked just before a kill -9).
    await js.publish(mine, 'left behind');
    expect((await take(consumer))?.string()).toBe('left behind');
    await sleep(1_200);
    expect((await take(consumer))?.string()).toBe('left behind');
    await sleep(1_200);
    expect(await take(consumer)).toBeUndefined();
    await js.publish(mine, 'done');
    await (await take(consumer))!.ackAck();
    // Still to do: one awaiting its ack, one not delivered yet, and one on another subject.
    await js.publish(mine, 'running');
    expect((await take(consumer))?.string()).toBe('running');
    await js.publish(mine, 'queued');
    await js.publish(other, 'not mine');
    expect(await held()).toEqual({ [mine]: 3, [other]: 1 });

    expect(await removeAckedLeftovers(jsm, stream, await jsm.consumers.info(stream, 'mine'))).toBe(1);

    expect(await held()).toEqual({ [mine]: 2, [other]: 1 });
    const after = await jsm.consumers.info(stream, 'mine');
    expect({ pending: after.num_pending, awaitingAck: after.num_ack_pending }).toEqual({ pending: 1, awaitingAck: 1 });
    // Nothing still to do is lost. The running one, never acked (its worker died), comes back
    // once its ack wait passes: a purge made the server forget it (`o.pending = nil`).
    const delivered: string[] = [];
    for (const until = Date.now() + 5_000; delivered.length < 2 && Date.now() < until;) {
      const m = await take(consumer);
      if (m) delivered.push(m.string());
      await m?.ackAck();
    }
    expect(delivered.sort()).toEqual(['queued', 'running']);
    expect(await held()).toEqual({ [other]: 1 });
  }, 30_000);

  it('leaves a consumer that has acked nothing yet alone, and a second pass finds nothing', async () => {
    const { stream, mine, held } = await workQueue();
    await ensureDurable(jsm, { stream, durable: 'fresh', filterSubject: mine });
    await jetstream(nc).publish(mine, 'queued');
    expect(await removeAckedLeftovers(jsm, stream, await jsm.consumers.info(stream, 'fresh'))).toBe(0);
    expect(await held()).toEqual({ [mine]: 1 });
  });

  it('counts a leftover another replica removed first as not removed, without an error', async () => {
    const { stream, mine, held } = await workQueue();
    await ensureDurable(jsm, { stream, durable: 'mine', filterSubject: mine, maxDeliver: 1, ackWaitMs: 1_000 });
    const js = jetstream(nc);
    const consumer = await js.consumers.get(stream, 'mine');
    await js.publish(mine, 'left behind');
    expect(await take(consumer)).toBeDefined();
    await sleep(1_200);
    await js.publish(mine, 'done');
    await (await take(consumer))!.ackAck();
    const info = await jsm.consumers.info(stream, 'mine');

    // Two replicas read the same floor and race to the same message.
    const [a, b] = await Promise.all([removeAckedLeftovers(jsm, stream, info), removeAckedLeftovers(jsm, stream, info)]);

    expect(a + b).toBe(1);
    expect(await held()).toEqual({});
  }, 30_000);
});

import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { makeEvent, type StreamSpec } from '@switchyard/contracts';
import { startNats, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus } from './connect.js';
import { provisionStreams } from './provision.js';
import { publishEvent } from './publish.js';
import { pullDurable, type PulledMessage } from './pull.js';

let nats: TestServer;
let nc: NatsConnection;
beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'pull-test' });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const event = (id: string) =>
  makeEvent(
    { id, tenant: 'acme', requestId: id, nowMs: 1 },
    {
      $case: 'decision',
      decision: { service: 't', action: 'a', reason: '', chosen: '', candidates: [], categories: [], ruleIds: [], policyVersion: '', latencyMs: 0, user: '' },
    },
  );

async function drain(it: AsyncIterable<PulledMessage>): Promise<PulledMessage[]> {
  const got: PulledMessage[] = [];
  for await (const m of it) got.push(m);
  return got;
}

describe('pullDurable', () => {
  it('takes no more than asked, leaves the rest on the stream, and dead-letters what it cannot decode', async () => {
    const id = Math.random().toString(36).slice(2, 8);
    const spec: StreamSpec = { name: `P_${id}`, subjects: [`p${id}.>`], retention: 'workqueue', maxAgeMs: 60_000, duplicateWindowMs: 60_000 };
    const dlq: StreamSpec = { name: `DL_${id}`, subjects: [`deadletter.P_${id}.>`], retention: 'limits', maxAgeMs: 60_000, duplicateWindowMs: 60_000 };
    const jsm = await jetstreamManager(nc);
    await provisionStreams(jsm, [spec, dlq]);
    const js = jetstream(nc);
    await js.publish(`p${id}.x`, new Uint8Array([0xff, 0xff, 0xff]));
    for (const n of ['a', 'b', 'c']) await publishEvent(js, `p${id}.x`, event(`${id}-${n}`));
    const errors: string[] = [];
    const puller = await pullDurable({ js, stream: spec.name, durable: 'w', ackWaitMs: 5_000, onError: (_e, context) => errors.push(context) });

    const first = await drain(puller.pull(2, 1_000));
    expect(first.map((m) => m.event.envelope!.id)).toEqual([`${id}-a`]); // the bad message took one of the two
    expect(errors).toEqual([expect.stringMatching(/dead-lettered/)]);
    expect((await jsm.streams.info(dlq.name)).state.messages).toBe(1);
    expect((await jsm.consumers.info(spec.name, 'w')).num_pending).toBe(2);

    first[0]!.nak();
    // The nak must reach the server before the next pull, or b and c may come first.
    await nc.flush();
    const second = await drain(puller.pull(3, 1_000));
    expect(second.map((m) => [m.event.envelope!.id, m.deliveryCount])).toEqual([
      [`${id}-a`, 2],
      [`${id}-b`, 1],
      [`${id}-c`, 1],
    ]);
    for (const m of second) m.ack();
    await nc.flush();
    expect((await jsm.consumers.info(spec.name, 'w')).num_ack_pending).toBe(0);
  });
});

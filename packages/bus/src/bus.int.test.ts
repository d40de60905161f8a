import { DomainError, makeEvent, type StreamSpec } from '@switchyard/contracts';
import { startNats, waitFor, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus } from './connect.js';
import { consumeDurable, type Delivery } from './consume.js';
import { provisionStreams } from './provision.js';
import { publishEvent } from './publish.js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

let nats: TestServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'bus-test' });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

function randomStream(): StreamSpec & { subject: string } {
  const id = Math.random().toString(36).slice(2, 8);
  return { name: `T_${id}`, subjects: [`t${id}.>`], subject: `t${id}.x`, retention: 'limits', maxAgeMs: 60_000, duplicateWindowMs: 60_000 };
}

const event = (id: string) =>
  makeEvent(
    { id, tenant: 'acme', requestId: id, nowMs: 1 },
    {
      $case: 'decision',
      decision: { service: 't', action: 'a', reason: '', chosen: '', candidates: [], categories: [], ruleIds: [], policyVersion: '', latencyMs: 0, user: '' },
    },
  );

describe('bus', () => {
  it('provisions idempotently and de-duplicates retried publishes by event id', async () => {
    const spec = randomStream();
    const jsm = await jetstreamManager(nc);
    await provisionStreams(jsm, [spec]);
    await provisionStreams(jsm, [spec]);
    const js = jetstream(nc);
    await publishEvent(js, spec.subject, event('e1'));
    const dup = await publishEvent(js, spec.subject, event('e1'));
    await publishEvent(js, spec.subject, event('e2'));
    expect(dup.duplicate).toBe(true);
    expect((await jsm.streams.info(spec.name)).state.messages).toBe(2);
  });

  it('redelivers transient failures, dead-letters poison messages, and acks the rest', async () => {
    const spec = randomStream();
    const dlq: StreamSpec = {
      name: `DL_${spec.name}`,
      subjects: [`deadletter.${spec.name}.>`],
      retention: 'limits',
      maxAgeMs: 60_000,
      duplicateWindowMs: 60_000,
    };
    const jsm = await jetstreamManager(nc);
    await provisionStreams(jsm, [spec, dlq]);
    const js = jetstream(nc);
    const seen: Array<[string, number]> = [];
    const consumer = await consumeDurable({
      js,
      stream: spec.name,
      durable: 'tester',
      maxDeliver: 3,
      backoffMs: [20],
      handle: async (d: Delivery) => {
        const id = d.event.envelope!.id;
        seen.push([id, d.deliveryCount]);
        if (id === 'flaky' && d.deliveryCount < 2) throw new DomainError('UNAVAILABLE', 'try later');
        if (id === 'always-down') throw new DomainError('UNAVAILABLE', 'still down');
        if (id === 'bad') throw new DomainError('INVALID_ARGUMENT', 'cannot ever work');
      },
    });
    for (const id of ['ok', 'flaky', 'always-down', 'bad']) await publishEvent(js, spec.subject, event(id));
    await js.publish(spec.subject, new Uint8Array([0xff, 0xff, 0xff]), { msgID: 'garbage' });

    const dead = await waitFor('three dead letters', async () => {
      const n = (await jsm.streams.info(dlq.name)).state.messages;
      return n >= 3 ? n : undefined;
    });
    await waitFor('flaky retried', () => (seen.some(([id, n]) => id === 'flaky' && n === 2) ? true : undefined));
    await waitFor('every message settled', async () => {
      const i = await jsm.consumers.info(spec.name, 'tester');
      return i.num_ack_pending === 0 && i.num_pending === 0 ? i : undefined;
    });
    await consumer.stop();

    expect(dead).toBe(3);
    expect(seen.filter(([id]) => id === 'ok')).toEqual([['ok', 1]]);
    expect(seen.filter(([id]) => id === 'always-down').map(([, n]) => n)).toEqual([1, 2, 3]);
    expect(seen.filter(([id]) => id === 'bad')).toEqual([['bad', 1]]);
    const last = await jsm.streams.getMessage(dlq.name, { last_by_subj: `deadletter.${spec.name}.tester` });
    expect(last?.header.get('Sy-Subject')).toBe(spec.subject);
  });
});

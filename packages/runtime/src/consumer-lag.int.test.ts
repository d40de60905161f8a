import { connectBus, ensureDurable, jetstream, provisionStreams, type NatsConnection } from '@switchyard/bus';
import { streams } from '@switchyard/contracts';
import { Registry } from '@switchyard/telemetry';
import { startNats, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followConsumerLag } from './consumer-lag.js';

let nats: TestServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'consumer-lag-test' });
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe('followConsumerLag', () => {
  it("reports each owned durable's unfinished messages and its dead letters, and no one else's", async () => {
    const id = Math.random().toString(36).slice(2, 8);
    const stream = `LAG_${id}`;
    const js = jetstream(nc);
    const jsm = await js.jetstreamManager();
    await provisionStreams(jsm, [
      { name: stream, subjects: [`lag${id}.>`], retention: 'limits', maxAgeMs: 60_000, duplicateWindowMs: 60_000 },
      streams.DEADLETTER,
    ]);
    await ensureDurable(jsm, { stream, durable: 'svc' });
    await ensureDurable(jsm, { stream, durable: 'other' });
    for (let i = 0; i < 3; i++) await js.publish(`lag${id}.x`, new Uint8Array([i]));
    await js.publish(`deadletter.${stream}.svc`, new Uint8Array([9]));

    const registry = new Registry();
    const lag = followConsumerLag({ jsm, registry, owns: (c) => c === 'svc', streams: [stream], intervalMs: 60_000 });
    await lag.poll();
    lag.stop();

    const text = await registry.metrics();
    expect(text).toContain(`switchyard_consumer_pending{stream="${stream}",consumer="svc"} 3`);
    expect(text).toContain(`switchyard_dead_letters{stream="${stream}",consumer="svc"} 1`);
    expect(text).not.toContain('consumer="other"');
  });
});

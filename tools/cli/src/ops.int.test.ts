import { connectBus, type NatsConnection } from '@switchyard/bus';
import { subjects } from '@switchyard/contracts';
import { startNats, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendFault } from './ops.js';

let nats: TestServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'cli-test' });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

describe('switchyard fault', () => {
  it('says fault injection is off when no worker of the pool takes commands', async () => {
    await expect(sendFault(nc, 'quiet-pool', '{"kind":"crash"}', undefined, 300)).rejects.toThrow(
      /no worker answered on ops\.worker\.quiet-pool: fault injection is off on these workers \(start them with WORKER_FAULTS=on\)/,
    );
  });

  it('returns the reply of every worker of the pool that takes commands', async () => {
    // Two workers as the simulator answers them: their state as JSON.
    const subs = ['w0', 'w1'].map((worker) =>
      nc.subscribe(subjects.workerControl('busy-pool'), { callback: (_e, m) => void m.respond(JSON.stringify({ worker, crashed: m.string().includes('crash') })) }),
    );
    const replies = await sendFault(nc, 'busy-pool', '{"kind":"crash"}', undefined, 300);
    expect(replies.map((r) => r.worker).sort()).toEqual(['w0', 'w1']);
    expect(replies.every((r) => r.crashed)).toBe(true);
    for (const s of subs) s.unsubscribe();
  });
});

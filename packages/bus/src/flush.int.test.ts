import { startNats, waitFor, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectBus } from './connect.js';

// The client is patched (patches/@nats-io__nats-core@3.4.0.patch) to write what many I/O
// callbacks published in one go, after the event loop's I/O phase. These pin what users
// rely on: nothing published is lost on close, and order holds.
let nats: TestServer;
beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  await nats?.dispose();
});

it('delivers, in order, what was published just before close()', async () => {
  const reader = await connectBus({ url: nats.url, name: 'reader' });
  const got: string[] = [];
  reader.subscribe('flush.test', { callback: (_e, m) => void got.push(m.string()) });
  await reader.flush();
  const writer = await connectBus({ url: nats.url, name: 'writer' });
  for (let i = 0; i < 100; i++) writer.publish('flush.test', String(i));
  await writer.close();
  await waitFor('the 100 messages', () => (got.length === 100 ? true : undefined), 5_000);
  expect(got).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
  await reader.close();
});

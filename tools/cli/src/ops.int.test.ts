import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connectBus, openBucket, type NatsConnection } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { subjects } from '@switchyard/contracts';
import { openRouteStore, setDrained } from '@switchyard/scheduler';
import { startNats, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPools, sendFault } from './ops.js';
import { REPO_ROOT } from './stack.js';

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
      nc.subscribe(subjects.workerControl('busy-pool'), {
        callback: (_e, m) => void m.respond(JSON.stringify({ worker, crashed: m.string().includes('crash') })),
      }),
    );
    const replies = await sendFault(nc, 'busy-pool', '{"kind":"crash"}', undefined, 300);
    expect(replies.map((r) => r.worker).sort()).toEqual(['w0', 'w1']);
    expect(replies.every((r) => r.crashed)).toBe(true);
    for (const s of subs) s.unsubscribe();
  });
});

describe('switchyard pools', () => {
  it('shows a pool drained by an operator with its reason, the drain the schedulers follow', async () => {
    const pools = loadPoolsFile(join(REPO_ROOT, 'deploy', 'pools.yaml'));
    const id = pools[0]!.id;
    const suffix = randomUUID().slice(0, 8);
    const b = { pools: await openBucket(nc, `pools-${suffix}`), routes: await openBucket(nc, `routes-${suffix}`) };
    const store = await openRouteStore(b.routes, {});
    try {
      await setDrained(b.routes, id, true, 'driver upgrade', Date.now());
      const row = (await listPools(b, pools, Date.now())).split('\n').find((l) => l.startsWith(id));
      expect(row).toMatch(/drained \(driver upgrade\)$/);
      await expect.poll(() => store.drained().get(id)).toBe('driver upgrade');
      await setDrained(b.routes, id, false, '', Date.now());
      expect((await listPools(b, pools, Date.now())).split('\n').find((l) => l.startsWith(id))).not.toContain('drained');
      await expect.poll(() => store.drained().has(id)).toBe(false);
    } finally {
      await store.stop();
    }
  });
});

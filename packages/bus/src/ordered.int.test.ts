import { RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { startNatsCluster, waitFor, type NatsCluster } from '@switchyard/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, jetstream, jetstreamManager, type NatsConnection } from './index.js';
import { followOrdered } from './ordered.js';

/**
 * An ordered consumer lives on one node of a cluster. Killed with that node, it is replaced
 * from the last message handled: the terminal watch and the budget states of admission follow
 * LIFECYCLE and BILLING this way (issue #20). The client talks to another node, so it never
 * reconnects: only the consumer's own loss can tell it.
 */

let cluster: NatsCluster;
let nc: NatsConnection;

beforeAll(async () => {
  cluster = await startNatsCluster({ nodes: 3 });
  nc = await connectBus({ url: cluster.url, name: 'ordered-test' });
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.dispose();
});

describe('followOrdered in a cluster', () => {
  it('is replaced after its node is killed and goes on after the last message it handled, nothing twice', async () => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const got: number[] = [];
    // The consumer must live on another node than the one this client talks to: then the client
    // never reconnects, and only the silence of the consumer itself can tell it is gone.
    let stream = '';
    let follower: Awaited<ReturnType<typeof followOrdered>> | undefined;
    let home = '';
    for (let k = 0; k < 10 && !follower; k++) {
      const name = `ORDERED_${k}`;
      await jsm.streams.add({ name, subjects: [`ordered.${k}.>`], num_replicas: 3, storage: StorageType.File, retention: RetentionPolicy.Limits });
      const f = await followOrdered(js, { stream: name, nc, expiresMs: 5_000 }, (msg) => void got.push(Number(new TextDecoder().decode(msg.data))));
      for await (const c of jsm.consumers.list(name)) home = c.cluster?.leader ?? '';
      if (home && home !== nc.info?.server_name) [stream, follower] = [name, f];
      else await f.stop();
    }
    expect(follower, 'an ordered consumer on another node than the client').toBeDefined();
    const subject = `ordered.${stream.slice('ORDERED_'.length)}.x`;
    const publish = async (n: number) => {
      // Through the stream's election after a kill: retried until stored.
      for (;;) {
        try {
          return await js.publish(subject, new TextEncoder().encode(String(n)), { msgID: `m-${n}`, timeout: 2_000 });
        } catch {
          await sleep(250);
        }
      }
    };
    for (let n = 0; n < 5; n++) await publish(n);
    await waitFor('the first five', () => (got.length === 5 ? true : undefined));

    await cluster.kill(cluster.indexOf(home));

    for (let n = 5; n < 10; n++) await publish(n);
    await waitFor('the next five, on a replacement consumer', () => (got.length >= 10 ? true : undefined), 30_000);
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await follower!.stop();
  }, 90_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsCluster, type NatsCluster } from './nats-cluster.js';

let cluster: NatsCluster;

beforeAll(async () => {
  cluster = await startNatsCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.dispose();
});

interface Jsz {
  meta_cluster: { leader: string; cluster_size: number; replicas?: { name: string; current: boolean }[] };
}
const jsz = async (i: number) => (await (await fetch(`${cluster.nodes[i]!.monitorUrl}/jsz`)).json()) as Jsz;

describe('startNatsCluster', () => {
  it('returns three routed nodes with a JetStream meta leader that sees the others current', async () => {
    expect(cluster.nodes.map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
    expect(cluster.url.split(',')).toEqual(cluster.nodes.map((n) => n.url));
    const views = await Promise.all([0, 1, 2].map(jsz));
    const leader = views[0]!.meta_cluster.leader;
    expect(views.map((v) => [v.meta_cluster.leader, v.meta_cluster.cluster_size])).toEqual([
      [leader, 3],
      [leader, 3],
      [leader, 3],
    ]);
    const replicas = views[cluster.indexOf(leader)]!.meta_cluster.replicas!;
    expect(replicas.map((r) => r.current)).toEqual([true, true]);
  });

  it('elects a new meta leader when the leader is killed, and takes the node back on its store', async () => {
    const leader = (await jsz(0)).meta_cluster.leader;
    const i = cluster.indexOf(leader);
    expect(await cluster.kill(i)).toEqual({ code: null, signal: 'SIGKILL' });
    await cluster.ready(20_000);
    const survivor = (i + 1) % 3;
    expect((await jsz(survivor)).meta_cluster.leader).not.toBe(leader);
    await cluster.restart(i);
    expect((await jsz(i)).meta_cluster.leader).toBe((await jsz(survivor)).meta_cluster.leader);
  }, 60_000);
});

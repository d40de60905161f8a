import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProcessServer, type ProcessExit, type ProcessServer } from './process-server.js';
import { waitFor } from './wait-for.js';

export interface NatsClusterOptions {
  /** Cluster members. Default 3, the smallest cluster that keeps a quorum without one node. */
  readonly nodes?: number;
  /** Cluster name (`cluster.name`). Default `switchyard`, as in deploy/nats/cluster/nats.conf. */
  readonly name?: string;
  /** How long start and `restart` wait for the JetStream meta group to be whole. Default 30 s. */
  readonly readyTimeoutMs?: number;
  /** Hears every node's log, with the node's index. */
  readonly onOutput?: (node: number, text: string) => void;
}

/** One member of a {@link NatsCluster}. */
export interface NatsClusterNode {
  /** `server_name`, e.g. `n1`: what stream info's `cluster.leader` and `replicas` name. */
  readonly name: string;
  /** Client URL, `nats://127.0.0.1:PORT`. */
  readonly url: string;
  /** HTTP monitoring base, `http://127.0.0.1:PORT` (`/jsz`, `/healthz`). */
  readonly monitorUrl: string;
  readonly process: ProcessServer;
}

/** A private nats-server cluster on loopback with JetStream file storage, for chaos tests. */
export interface NatsCluster {
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's client URL, comma-separated: what `NATS_URL` and `connectBus` take. */
  readonly url: string;
  /** Index of the node named `name` (`server_name`); throws for a stranger. */
  indexOf(name: string): number;
  /** kill -9 of node `i`: no goodbye to clients or peers. */
  kill(i: number): Promise<ProcessExit>;
  /** Starts node `i` again on its ports and store, and waits until it is a current peer again. */
  restart(i: number): Promise<void>;
  /**
   * What each running node holds of stream `name` (from its `/jsz`): messages and last
   * sequence. Equal on every node once the replicas caught up; a node without the stream is left out.
   */
  streamStates(name: string): Promise<StreamReplicaState[]>;
  /** Resolves once a meta leader is elected and every running node is a current peer. */
  ready(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their stores. */
  dispose(): Promise<void>;
}

/** One node's copy of a stream. */
export interface StreamReplicaState {
  readonly node: string;
  readonly messages: number;
  readonly lastSeq: number;
}

interface Jsz {
  readonly account_details?: readonly {
    readonly stream_detail?: readonly { readonly name: string; readonly state: { readonly messages: number; readonly last_seq: number } }[];
  }[];
  readonly meta_cluster?: { readonly leader?: string; readonly cluster_size?: number; readonly replicas?: readonly { name: string; current: boolean }[] };
}

async function jszOf(monitorUrl: string, query = ''): Promise<Jsz> {
  const res = await fetch(`${monitorUrl}/jsz${query}`, { signal: AbortSignal.timeout(1_000) });
  if (!res.ok) throw new Error(`${monitorUrl}/jsz answered ${res.status}`);
  return (await res.json()) as Jsz;
}

/**
 * Starts `nodes` nats-servers routed to each other on free loopback ports, each with
 * JetStream in its own temporary store, and resolves once the JetStream meta group has a
 * leader that sees every other node as current: streams of `num_replicas` up to `nodes`
 * can be created at once. Always local processes (never `NATS_URL`), so a test can kill them.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const count = options.nodes ?? 3;
  const clusterName = options.name ?? 'switchyard';
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const ports: { client: number; route: number; monitor: number }[] = [];
  for (let i = 0; i < count; i++) ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
  const root = mkdtempSync(join(tmpdir(), 'sy-nats-cluster-'));
  const running = new Set<number>();

  const start = (i: number): Promise<ProcessServer> => {
    const p = ports[i]!;
    const routes = ports.filter((_, j) => j !== i).map((o) => `nats://127.0.0.1:${o.route}`);
    return startProcessServer({
      name: `nats-server n${i + 1}`,
      command: 'nats-server',
      args: [
        '-a',
        '127.0.0.1',
        '-p',
        String(p.client),
        '-m',
        String(p.monitor),
        '-js',
        '-sd',
        join(root, `n${i + 1}`),
        '--server_name',
        `n${i + 1}`,
        '--cluster_name',
        clusterName,
        '--cluster',
        `nats://127.0.0.1:${p.route}`,
        '--routes',
        routes.join(','),
      ],
      readyPattern: /Server is ready/,
      onOutput: options.onOutput && ((text) => options.onOutput!(i, text)),
    });
  };

  const started = await Promise.allSettled(ports.map((_, i) => start(i)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => s.status === 'fulfilled' && s.value.kill()));
    rmSync(root, { recursive: true, force: true });
    throw failed.reason;
  }
  const nodes: NatsClusterNode[] = started.map((s, i) => ({
    name: `n${i + 1}`,
    url: `nats://127.0.0.1:${ports[i]!.client}`,
    monitorUrl: `http://127.0.0.1:${ports[i]!.monitor}`,
    process: (s as PromiseFulfilledResult<ProcessServer>).value,
  }));
  nodes.forEach((_, i) => running.add(i));

  /** Every running node names the same leader, and the leader sees every other running node current. */
  const whole = async (): Promise<true | undefined> => {
    const views = await Promise.all([...running].map(async (i) => ({ i, jsz: await jszOf(nodes[i]!.monitorUrl) })));
    const leader = views[0]?.jsz.meta_cluster?.leader;
    if (!leader || views.some((v) => v.jsz.meta_cluster?.leader !== leader)) return undefined;
    const leaderIndex = nodes.findIndex((n) => n.name === leader);
    const fromLeader = views.find((v) => v.i === leaderIndex)?.jsz.meta_cluster?.replicas ?? [];
    const others = [...running].filter((i) => i !== leaderIndex).map((i) => nodes[i]!.name);
    return others.every((name) => fromLeader.some((r) => r.name === name && r.current)) ? true : undefined;
  };
  const ready = async (timeoutMs = readyTimeoutMs) => {
    await waitFor('a JetStream meta leader with every running node current', whole, timeoutMs);
  };

  const cluster: NatsCluster = {
    nodes,
    url: nodes.map((n) => n.url).join(','),
    indexOf(name) {
      const i = nodes.findIndex((n) => n.name === name);
      if (i === -1) throw new Error(`no node named ${name} in this cluster (${nodes.map((n) => n.name).join(', ')})`);
      return i;
    },
    async kill(i) {
      running.delete(i);
      return nodes[i]!.process.kill();
    },
    async restart(i) {
      await nodes[i]!.process.restart();
      running.add(i);
      await ready();
    },
    async streamStates(name) {
      const states = await Promise.all(
        [...running].sort().map(async (i) => {
          const jsz = await jszOf(nodes[i]!.monitorUrl, '?streams=true');
          const stream = jsz.account_details?.flatMap((a) => a.stream_detail ?? []).find((d) => d.name === name);
          return stream && { node: nodes[i]!.name, messages: stream.state.messages, lastSeq: stream.state.last_seq };
        }),
      );
      return states.filter((s): s is StreamReplicaState => s !== undefined);
    },
    ready,
    async dispose() {
      await Promise.all(nodes.map((n) => n.process.stop()));
      rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await ready();
  } catch (e) {
    await cluster.dispose();
    throw e;
  }
  return cluster;
}

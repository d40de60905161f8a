import { join } from 'node:path';
import { hashApiKey } from '@switchyard/auth';
import { REPO_ROOT, firstServedRequest, privateStackEnv, startStack, type Stack } from '@switchyard/cli';
import { Tier, createSwitchyardClient, type GenerateResponse, type SwitchyardClient } from '@switchyard/sdk';
import { freePort, startNats, startPostgres, startRedis, type TestServer } from '@switchyard/testing';
import type { Shot } from './load.js';

/** The whole system on private servers, workers not sleeping, as the benchmarks drive it. */
export interface BenchStack {
  readonly stack: Stack;
  readonly nats: TestServer;
  readonly redis: TestServer;
  readonly pg: TestServer;
  /** Seconds from spawning the services to the first request served end to end. */
  readonly startupS: number;
  /** Messages the nats-server took in and sent out so far (publishes, deliveries, acks, replies). */
  natsMessages(): Promise<{ in: number; out: number }>;
  /**
   * A streamed Generate of 16 tokens on `tier`, resolving with its time to first token;
   * `onEvent` sees every response with when the call was sent and its request id (once started).
   */
  generate(tier: Tier, onEvent?: (e: GenerateResponse, call: { readonly sentAt: number; readonly requestId: string }) => void): Shot;
  /** Closes the clients, stops the services, then the servers. */
  close(): Promise<void>;
}

/**
 * Starts nats-server, redis-server and Postgres on free ports, then every service (as
 * `pnpm start` does), and waits for the first served request. `onExit` hears of a service
 * that dies during the run.
 */
export async function startBenchStack(onExit: (name: string, code: number | null) => void): Promise<BenchStack> {
  const monitorPort = await freePort();
  const [nats, redis, pg] = await Promise.all([startNats({ monitorPort }), startRedis(), startPostgres()]);
  const apiKey = 'sy_bench_key';
  const { env, grpcAddress: address } = await privateStackEnv({ nats: nats.url, redis: redis.url, postgres: pg.url }, `bench:bench-1:${hashApiKey(apiKey)}`, {
    // One tenant drives the whole saturation run: it measures capacity, so that tenant is not
    // paced as admission paces each tenant's internal calls by default (a fairness setting).
    TENANT_IN_FLIGHT: 'realtime=4096,internal=4096,batch=4096',
  });
  const t0 = performance.now();
  const stack = await startStack(env, join(REPO_ROOT, '.switchyard', 'bench-logs'), onExit);
  await firstServedRequest(address, apiKey, 120_000);
  const startupS = (performance.now() - t0) / 1000;

  const clients: SwitchyardClient[] = Array.from({ length: 4 }, () => createSwitchyardClient({ address, apiKey }));
  let next = 0;
  return {
    stack,
    nats,
    redis,
    pg,
    startupS,
    async natsMessages() {
      const v = (await (await fetch(`http://127.0.0.1:${monitorPort}/varz`)).json()) as { in_msgs: number; out_msgs: number };
      return { in: v.in_msgs, out: v.out_msgs };
    },
    // Stream events rather than `for await`: the async iterator costs the load generator, which
    // shares the cores with the system under test, a promise per chunk.
    generate: (tier, onEvent) => () =>
      new Promise((resolve, reject) => {
        const client = clients[next++ % clients.length]!;
        const t = performance.now();
        let ttft = Number.NaN;
        let requestId = '';
        const call = client.generate({ model: 'llama-3.2-1b', prompt: 'benchmark prompt of a few words', maxTokens: 16, tier });
        call.on('data', (e: GenerateResponse) => {
          if (Number.isNaN(ttft) && e.event?.$case === 'chunk') ttft = performance.now() - t;
          if (e.event?.$case === 'started') requestId = e.event.started.requestId;
          onEvent?.(e, { sentAt: t, requestId });
        });
        call.on('error', reject);
        call.on('end', () => resolve(ttft));
      }),
    async close() {
      clients.forEach((c) => c.close());
      await stack.stop();
      await Promise.all([nats.dispose(), redis.dispose(), pg.dispose()]);
    },
  };
}

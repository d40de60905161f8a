import { Redis } from 'ioredis';
import postgres, { type Sql } from 'postgres';
import { createAdmission, createPolicyClient } from '@switchyard/admission';
import { createKeyring, generateApiKey, hashApiKey } from '@switchyard/auth';
import { createBatcher } from '@switchyard/batcher';
import { createBilling } from '@switchyard/billing';
import { connectBus, jetstream, openBucket, provisionStreams, type NatsConnection } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { buckets, streams } from '@switchyard/contracts';
import { createMetering } from '@switchyard/metering';
import { createPolicy } from '@switchyard/policy';
import { createScheduler } from '@switchyard/scheduler';
import { createLogger } from '@switchyard/telemetry';
import { startNats, startPostgres, startRedis, type TestServer } from '@switchyard/testing';
import { createWorkerSimulator } from '@switchyard/worker-simulator';

export const TEST_POOLS: PoolSpec[] = [
  { id: 'test-eu-h100-8b', provider: 'aws', region: 'eu-west-1', gpu: 'h100-80gb', model: 'llama-3.1-8b', workers: 1, capacityClass: 'on-demand', pricePerGpuHour: 4, tiers: ['realtime', 'internal', 'batch'], slotsPerWorker: 16 },
];

export interface SystemOptions {
  readonly pools?: PoolSpec[];
  readonly tokenDelayMs?: number;
}

export interface RunningSystem {
  readonly admissionAddress: string;
  readonly billingAddress: string;
  /** Key of tenant `acme`. */
  readonly apiKey: string;
  /** Key of tenant `globex`. */
  readonly otherApiKey: string;
  readonly sql: Sql;
  /** A connection for the test's own reads of streams. */
  readonly nc: NatsConnection;
  readonly servers: { nats: TestServer; redis: TestServer; postgres: TestServer };
  stop(): Promise<void>;
}

/**
 * Starts private NATS, Redis and Postgres and all seven services in this process, each
 * with its own connections, talking over real sockets exactly as separate processes do.
 */
export async function startSystem(options: SystemOptions = {}): Promise<RunningSystem> {
  const [nats, redisServer, pg] = await Promise.all([startNats(), startRedis(), startPostgres()]);
  const logger = (service: string) => createLogger({ service, level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const apiKey = generateApiKey();
  const otherApiKey = generateApiKey();
  const keyring = createKeyring([
    { tenant: 'acme', keyId: 'acme-1', keyHash: hashApiKey(apiKey) },
    { tenant: 'globex', keyId: 'globex-1', keyHash: hashApiKey(otherApiKey) },
  ]);
  const connections: NatsConnection[] = [];
  const connect = async (name: string) => {
    const nc = await connectBus({ url: nats.url, name });
    connections.push(nc);
    return { nc, js: jetstream(nc) };
  };
  const testBus = await connect('test');
  await provisionStreams(await testBus.js.jetstreamManager(), Object.values(streams));

  const pools = options.pools ?? TEST_POOLS;
  const policyBus = await connect('policy');
  const policy = createPolicy({ js: policyBus.js, logger: logger('policy'), listen: '127.0.0.1:0' });
  const policyAddress = await policy.start();

  const redis = new Redis(redisServer.url);
  const admissionBus = await connect('admission');
  const admission = createAdmission({
    ...admissionBus, redis, keyring, logger: logger('admission'), policy: createPolicyClient(policyAddress), listen: '127.0.0.1:0',
    limits: { maxPromptTokens: 8_192, maxOutputTokens: 2_048, defaultMaxTokens: 16 },
  });
  const admissionAddress = await admission.start();

  const schedulerBus = await connect('scheduler');
  const scheduler = createScheduler({ js: schedulerBus.js, poolsKv: await openBucket(schedulerBus.nc, buckets.pools, { ttl: 10_000 }), pools, logger: logger('scheduler') });
  await scheduler.start();

  const batcherBus = await connect('batcher');
  const batcher = createBatcher({ js: batcherBus.js, logger: logger('batcher') });
  await batcher.start();

  const workerBus = await connect('worker-simulator');
  const workers = createWorkerSimulator({
    ...workerBus, poolsKv: await openBucket(workerBus.nc, buckets.pools, { ttl: 10_000 }), pools, logger: logger('worker-simulator'),
    instanceId: 'test', tokenDelayMs: options.tokenDelayMs ?? 1,
  });
  await workers.start();

  const meteringBus = await connect('metering');
  const metering = createMetering({ js: meteringBus.js, logger: logger('metering') });
  await metering.start();

  const sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  const billingBus = await connect('billing');
  const billing = createBilling({ js: billingBus.js, sql, keyring, logger: logger('billing'), listen: '127.0.0.1:0' });
  const billingAddress = await billing.start();

  return {
    admissionAddress,
    billingAddress,
    apiKey,
    otherApiKey,
    sql,
    nc: testBus.nc,
    servers: { nats, redis: redisServer, postgres: pg },
    async stop() {
      await admission.stop(1_000);
      for (const s of [policy, scheduler, batcher, workers, metering, billing]) await s.stop();
      redis.disconnect();
      await Promise.all(connections.map((c) => c.close()));
      await sql.end();
      await Promise.all([nats.dispose(), redisServer.dispose(), pg.dispose()]);
    },
  };
}

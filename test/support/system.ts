import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import postgres, { type Sql } from 'postgres';
import { ADMISSION_REDIS_OPTIONS, createAdmission, createPolicyClient, type Admission, type AdmissionAddresses } from '@switchyard/admission';
import { generateApiKey, hashApiKey, openTenantStore, type TenantSettingsInput, type TenantStore } from '@switchyard/auth';
import { createBatchService, type BatchService, type BatchServiceDeps } from '@switchyard/batch';
import { createBatcher, type FormingRules } from '@switchyard/batcher';
import { createBilling } from '@switchyard/billing';
import { BATCHING_BUCKET, connectBus, jetstream, openBucket, provisionStreams, type BucketOptions, type NatsConnection } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { BillingServiceClient, buckets, streams } from '@switchyard/contracts';
import { createMetering } from '@switchyard/metering';
import { createPolicy } from '@switchyard/policy';
import { openPolicyStore } from '@switchyard/policy-rules';
import { createScheduler, PLACEMENTS_BUCKET, type Scheduler, type SchedulingConfig } from '@switchyard/scheduler';
import { createLogger, type Registry } from '@switchyard/telemetry';
import { freePort, startLatencyProxy, startNats, startPostgres, startRedis, type StartOptions, type TestServer, testPool, waitFor } from '@switchyard/testing';
import { createWorkerSimulator } from '@switchyard/worker-simulator';
import { createEngineAdapter } from '@switchyard/engine-adapter';
import { countPromptTokens } from '@switchyard/tokenizer';

export const TEST_POOLS: PoolSpec[] = [testPool({ id: 'test-eu-h100-8b', slotsPerWorker: 16 })];

export interface SystemOptions {
  readonly pools?: PoolSpec[];
  /** Simulated time per real time of the GPU workers. Default 'max' (no sleeping). */
  readonly workerSpeed?: number | 'max';
  /** The GPU workers take fault commands on `ops.worker.>`. Default false, as in production. */
  readonly workerFaults?: boolean;
  /**
   * Runs the engine adapter for the pools of kind `openai-compatible` and `provider` (point their
   * `endpoint.baseUrl` at a fake upstream), with these API keys by variable name. Default: no adapter.
   */
  readonly engineAdapter?: { readonly apiKeys?: Record<string, string> };
  /** Options of the private nats-server, e.g. a config file with users. */
  readonly nats?: StartOptions;
  /** Options of the private redis-server, e.g. `appendOnly` for a restart that keeps its data. */
  readonly redis?: StartOptions;
  /**
   * Runs on this NATS cluster (`startNatsCluster`) instead of a private nats-server: every
   * connection gets the whole URL list and fails over within it, and streams and KV buckets
   * are created with `replicas` replicas, as services do with `STREAM_REPLICAS`. The caller
   * owns the cluster: `stop` leaves it running.
   */
  readonly natsCluster?: { readonly url: string; readonly replicas: number };
  /** The URL each connection logs in with, by name (`test`, `admission-0`, `scheduler`, ...). Default the server's URL. */
  readonly natsUrlOf?: (connection: string, url: string) => string;
  /** Batch forming rules over the batcher's defaults. */
  readonly batcherRules?: Partial<FormingRules>;
  /** false leaves the batcher out, for tests that run it as a process (chaos). Default true. */
  readonly inProcessBatcher?: boolean;
  /** Admission replicas sharing Redis and NATS. Default 1. */
  readonly admissionReplicas?: number;
  /** Tenant settings stored before start (rate limits). Budgets: `RunningSystem.setBudget`. */
  readonly tenants?: TenantSettingsInput[];
  /** TLS certificate and key for admission's gRPC and HTTP listeners and billing's gRPC. Default plaintext. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly reloadMs?: number };
  /** Where every service logs. Default stdout. */
  readonly logDestination?: NodeJS.WritableStream;
  /** Log level of every service. Default `TEST_LOG_LEVEL`, else silent. */
  readonly logLevel?: string;
  /** Registry the services' metrics register in (policy's and the first admission replica's for now). */
  readonly registry?: Registry;
  /** The scheduler's tiers, policy, routes and canary thresholds. Default: every default. */
  readonly scheduling?: SchedulingConfig;
  /** Calls one tenant may run at once per tier in admission. Default admission's own pacing. */
  readonly inFlightPerTenant?: Partial<Record<'realtime' | 'internal' | 'batch', number>>;
  /** Admission reaches Redis over a link that holds each write this long (a slow Redis). Default 0. */
  readonly admissionRedisLatencyMs?: number;
  /** How long admission holds a settled amount before billing's published spend counts it. Default admission's. */
  readonly provisionalGraceMs?: number;
  /**
   * Runs the batch service (Files and Batches API, BullMQ workers), forwarded by admission at
   * `/v1/files` and `/v1/batches`. `inProcess: false` only reserves its ports and gives
   * `batchEnv`, for tests that run it as a process. Default: no batch service.
   */
  readonly batch?: { readonly inProcess?: boolean } & Partial<
    Pick<BatchServiceDeps, 'completionWindowMs' | 'backfill' | 'offPeak' | 'lockDurationMs' | 'uploadLimits' | 'now'>
  >;
}

export interface RunningSystem {
  readonly admissionAddress: string;
  /** Every admission replica's gRPC address (the first is `admissionAddress`). */
  readonly admissionAddresses: string[];
  /** OpenAI-compatible base URL of the first replica, e.g. `http://127.0.0.1:PORT/v1`. */
  readonly httpUrl: string;
  readonly policyAddress: string;
  /** The system's pools as a file, for services started as processes. */
  readonly poolsFile: string;
  /** The `tenants` KV bucket: add keys, revoke them, change settings. */
  readonly tenants: TenantStore;
  readonly billingAddress: string;
  /** Key of tenant `acme`. */
  readonly apiKey: string;
  /** Key of tenant `globex`. */
  readonly otherApiKey: string;
  /** An operator key (tenant `ops`): billing writes, every tenant's reads. */
  readonly operatorApiKey: string;
  /** Sets a monthly budget through billing's `SetBudget`, the one way budgets are set; resolves once billing stored it. */
  setBudget(tenant: string, budget: { feature?: string; softLimitMicros?: number; hardLimitMicros?: number }): Promise<void>;
  /** The admission replicas, in the order of `admissionAddresses`. */
  readonly admissions: readonly Admission[];
  readonly sql: Sql;
  /** A connection for the test's own reads of streams. */
  readonly nc: NatsConnection;
  readonly servers: { nats: TestServer; redis: TestServer; postgres: TestServer };
  /** The in-process scheduler (its Ops view, failover counts). */
  readonly scheduler: Scheduler;
  /** The batch service's gRPC address (when `batch` was asked for and runs in this process). */
  readonly batchAddress?: string;
  /** Environment for `services/batch` run as a process, serving where admission forwards to. */
  readonly batchEnv?: Record<string, string>;
  stop(): Promise<void>;
}

/** GET a JSON body with a key; over HTTPS trusting `ca` (a self-signed test certificate) when given. */
async function getJson(url: string, apiKey: string, ca?: Buffer): Promise<unknown> {
  if (!url.startsWith('https:')) return (await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } })).json();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers: { authorization: `Bearer ${apiKey}` } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Starts private NATS, Redis and Postgres and all seven services in this process, each
 * with its own connections, talking over real sockets exactly as separate processes do.
 */
export async function startSystem(options: SystemOptions = {}): Promise<RunningSystem> {
  const cluster = options.natsCluster;
  const [nats, redisServer, pg] = await Promise.all([
    cluster ? { url: cluster.url, dispose: async () => {} } : startNats(options.nats),
    startRedis(options.redis),
    startPostgres(),
  ]);
  const replicas = cluster?.replicas ?? 1;
  /** Every bucket the way the services' `runService` opens it: created with `replicas` replicas. */
  const open = (nc: NatsConnection, name: string, bucketOptions: BucketOptions = {}) => openBucket(nc, name, { replicas, ...bucketOptions });
  const logger = (service: string) =>
    createLogger({ service, level: options.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent', destination: options.logDestination });
  const apiKey = generateApiKey();
  const otherApiKey = generateApiKey();
  const operatorApiKey = generateApiKey();
  const connections: NatsConnection[] = [];
  const connect = async (name: string) => {
    const nc = await connectBus({ url: options.natsUrlOf?.(name, nats.url) ?? nats.url, name });
    connections.push(nc);
    return { nc, js: jetstream(nc) };
  };
  const testBus = await connect('test');
  await provisionStreams(await testBus.js.jetstreamManager(), Object.values(streams), { replicas });
  const tenants = await openTenantStore(await open(testBus.nc, buckets.tenants));
  await tenants.putKey({ tenant: 'acme', keyId: 'acme-1', keyHash: hashApiKey(apiKey) });
  await tenants.putKey({ tenant: 'globex', keyId: 'globex-1', keyHash: hashApiKey(otherApiKey) });
  await tenants.putKey({ tenant: 'ops', keyId: 'ops-1', keyHash: hashApiKey(operatorApiKey), operator: true });
  for (const t of options.tenants ?? []) await tenants.putTenant(t);

  const pools = options.pools ?? TEST_POOLS;
  const policyBus = await connect('policy');
  const policies = await open(policyBus.nc, buckets.policies);
  const policy = createPolicy({ nc: policyBus.nc, logger: logger('policy'), listen: '127.0.0.1:0', policies, registry: options.registry });
  const policyAddress = await policy.start();

  const slowLink = options.admissionRedisLatencyMs ? await startLatencyProxy(redisServer.url, options.admissionRedisLatencyMs) : undefined;
  const redis = new Redis(slowLink?.url ?? redisServer.url, ADMISSION_REDIS_OPTIONS);
  // Outage tests stop Redis on purpose; calls report it as UNAVAILABLE, the client need not.
  redis.on('error', () => {});
  const batchHttpPort = options.batch ? await freePort() : 0;
  const admissions: Admission[] = [];
  const stores: { stop(): Promise<void> }[] = [];
  for (let i = 0; i < (options.admissionReplicas ?? 1); i++) {
    const bus = await connect(`admission-${i}`);
    const store = await openTenantStore(await open(bus.nc, buckets.tenants));
    const policyStore = await openPolicyStore({ kv: await open(bus.nc, buckets.policies) });
    stores.push(store, policyStore);
    admissions.push(
      createAdmission({
        ...bus,
        redis,
        keyring: store.keyring,
        tenantSettings: store.settings,
        outputPolicy: policyStore.policyFor,
        logger: logger('admission'),
        registry: i === 0 ? options.registry : undefined,
        policy: createPolicyClient(policyAddress),
        listen: '127.0.0.1:0',
        httpListen: '127.0.0.1:0',
        inFlightPerTenant: options.inFlightPerTenant,
        provisionalGraceMs: options.provisionalGraceMs,
        batchApiUrl: options.batch ? `http://127.0.0.1:${batchHttpPort}` : undefined,
        tls: options.tls,
        limits: { maxPromptTokens: 8_192, maxOutputTokens: 2_048, defaultMaxTokens: 16 },
        routesKv: await open(bus.nc, buckets.routes),
        pricebookKv: await open(bus.nc, buckets.pricebook),
      }),
    );
  }
  const addresses: AdmissionAddresses[] = [];
  for (const a of admissions) addresses.push(await a.start());
  const admissionAddress = addresses[0]!.grpc;

  const schedulerBus = await connect('scheduler');
  const scheduler = createScheduler({
    js: schedulerBus.js,
    nc: schedulerBus.nc,
    config: options.scheduling,
    poolsKv: await open(schedulerBus.nc, buckets.pools, { ttl: 10_000 }),
    routesKv: await open(schedulerBus.nc, buckets.routes),
    batchingKv: await open(schedulerBus.nc, buckets.batching, BATCHING_BUCKET),
    placementsKv: await open(schedulerBus.nc, buckets.placements, PLACEMENTS_BUCKET),
    pools,
    logger: logger('scheduler'),
  });
  await scheduler.start();

  const batcherBus = await connect('batcher');
  const batcher = createBatcher({
    js: batcherBus.js,
    logger: logger('batcher'),
    pools,
    rules: options.batcherRules,
    poolsKv: await open(batcherBus.nc, buckets.pools, { ttl: 10_000 }),
    batchingKv: await open(batcherBus.nc, buckets.batching, BATCHING_BUCKET),
  });
  if (options.inProcessBatcher !== false) await batcher.start();
  // Services run as processes read the same pools from a file.
  const poolsFile = join(mkdtempSync(join(tmpdir(), 'sy-pools-')), 'pools.yaml');
  writeFileSync(poolsFile, JSON.stringify({ pools }));

  const workerBus = await connect('worker-simulator');
  const workers = createWorkerSimulator({
    ...workerBus,
    poolsKv: await open(workerBus.nc, buckets.pools, { ttl: 10_000 }),
    pools,
    logger: logger('worker-simulator'),
    instanceId: 'test',
    speed: options.workerSpeed ?? 'max',
    faults: options.workerFaults ?? false,
  });
  await workers.start();

  let adapter: { stop(): Promise<void> } | undefined;
  if (options.engineAdapter) {
    const adapterBus = await connect('engine-adapter');
    const engineAdapter = createEngineAdapter({
      ...adapterBus,
      poolsKv: await open(adapterBus.nc, buckets.pools, { ttl: 10_000 }),
      pools,
      logger: logger('engine-adapter'),
      instanceId: 'test',
      apiKeys: options.engineAdapter.apiKeys,
      countTokens: (text) => Math.max(0, countPromptTokens(text) - 1),
    });
    await engineAdapter.start();
    adapter = engineAdapter;
  }

  const sql = postgres(pg.url, { max: 8, onnotice: () => {} });
  const meteringBus = await connect('metering');
  const metering = createMetering({ nc: meteringBus.nc, js: meteringBus.js, sql, logger: logger('metering') });
  await metering.start();

  const billingBus = await connect('billing');
  const billing = createBilling({
    js: billingBus.js,
    sql,
    keyring: tenants.keyring,
    tenantExists: tenants.exists,
    logger: logger('billing'),
    listen: '127.0.0.1:0',
    tls: options.tls,
    pools,
    pricebookKv: await open(billingBus.nc, buckets.pricebook),
    budgetFlushMs: 50,
    // Admission's grace is shorter still (provisionalGraceMs), so spend settles within a test.
    // The gap between the two is how late admission may settle a request after billing posted
    // it and still see it in the ledger's spend without waiting for the full republish; a
    // loaded CI machine needs more than a second of it.
    budgetQuietRepublishMs: 3_000,
    // The fleet's heartbeats, as billing's main reads them, so its NATS user is held to it here too.
    poolsKv: await open(billingBus.nc, buckets.pools, { ttl: 10_000 }),
  });
  const billingAddress = await billing.start();
  const billingClient = new BillingServiceClient(
    billingAddress,
    options.tls ? credentials.createSsl(readFileSync(options.tls.certFile)) : credentials.createInsecure(),
  );

  const admissionHttp = addresses[0]!.http!.replace(/\/v1$/, '');
  const batchEnv = options.batch && {
    NATS_URL: nats.url,
    REDIS_URL: redisServer.url,
    DATABASE_URL: pg.url,
    BATCH_LISTEN: `127.0.0.1:${await freePort()}`,
    BATCH_HTTP_LISTEN: `127.0.0.1:${batchHttpPort}`,
    ADMISSION_HTTP_URL: admissionHttp,
    BATCH_SERVICE_API_KEY: operatorApiKey,
  };
  let batchService: BatchService | undefined;
  let batchAddress: string | undefined;
  if (options.batch && options.batch.inProcess !== false) {
    const batchBus = await connect('batch');
    const { inProcess: _inProcess, ...batchOptions } = options.batch;
    const redisUrl = new URL(redisServer.url);
    batchService = createBatchService({
      ...batchOptions,
      sql,
      redis: { host: redisUrl.hostname, port: Number(redisUrl.port) },
      keyring: tenants.keyring,
      logger: logger('batch'),
      poolsKv: await open(batchBus.nc, buckets.pools, { ttl: 10_000 }),
      admission: { baseUrl: admissionHttp, apiKey: operatorApiKey },
      listen: '127.0.0.1:0',
      httpListen: batchEnv!.BATCH_HTTP_LISTEN,
    });
    batchAddress = (await batchService.start()).grpc;
  }
  const asOperator = new Metadata();
  asOperator.set('authorization', `Bearer ${operatorApiKey}`);
  // Admission learns the served models from what the scheduler announced at start (a KV
  // watch): a test's first call must not race it.
  const served = pools.map((p) => p.version ?? p.model);
  for (const { http } of addresses) {
    await waitFor('every admission replica knows the served models', async () => {
      const listed = (await getJson(`${http}/models`, apiKey, options.tls && readFileSync(options.tls.certFile))) as { data: { id: string }[] };
      return served.every((v) => listed.data.some((m) => m.id === v)) ? true : undefined;
    });
  }

  return {
    admissionAddress,
    admissionAddresses: addresses.map((a) => a.grpc),
    httpUrl: addresses[0]!.http!,
    policyAddress,
    tenants,
    billingAddress,
    apiKey,
    otherApiKey,
    operatorApiKey,
    admissions,
    setBudget: (tenant, b) =>
      new Promise<void>((resolve, reject) =>
        billingClient.setBudget(
          { tenant, feature: b.feature ?? '', softLimitMicros: b.softLimitMicros ?? 0, hardLimitMicros: b.hardLimitMicros ?? 0 },
          asOperator,
          (e) => (e ? reject(e) : resolve()),
        ),
      ),
    sql,
    nc: testBus.nc,
    servers: { nats, redis: redisServer, postgres: pg },
    poolsFile,
    scheduler,
    batchAddress,
    batchEnv,
    async stop() {
      billingClient.close();
      await batchService?.stop();
      for (const a of admissions) await a.stop(1_000);
      for (const t of [...stores, tenants]) await t.stop();
      for (const s of [policy, scheduler, batcher, workers, ...(adapter ? [adapter] : []), metering, billing]) await s.stop();
      redis.disconnect();
      await slowLink?.close();
      await Promise.all(connections.map((c) => c.close()));
      await sql.end();
      await Promise.all([nats.dispose(), redisServer.dispose(), pg.dispose()]);
    },
  };
}

import postgres from 'postgres';
import { openTenantStore, parseApiKeys } from '@switchyard/auth';
import { buckets } from '@switchyard/contracts';
import { databaseEnv, listenAddress, redisEnv, z } from '@switchyard/config';
import { runMain, runService } from '@switchyard/runtime';
import { parseOffPeak } from './domain/off-peak.js';
import { createBatchService } from './service.js';

const env = z.object({
  ...databaseEnv,
  ...redisEnv,
  BATCH_LISTEN: listenAddress('127.0.0.1:50055'),
  /** The Files and Batches HTTP API; admission forwards `/v1/files` and `/v1/batches` here. */
  BATCH_HTTP_LISTEN: listenAddress('127.0.0.1:8081'),
  /** Admission's OpenAI facade, where batch lines are sent. */
  ADMISSION_HTTP_URL: z.string().url().default('http://127.0.0.1:8080'),
  /** An operator key: the batch service acts with it for the tenant of each batch. */
  BATCH_SERVICE_API_KEY: z.string().min(1, 'set BATCH_SERVICE_API_KEY to an operator key (switchyard key create --operator)'),
  /** Seed keys, `tenant:keyId:sha256hex[:operator]`; more live in the `tenants` KV bucket. */
  API_KEYS: z.string().default(''),
  /** `true` runs the BullMQ workers here too; `false` serves the API only (scale workers apart). */
  BATCH_WORKERS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** Tenants whose batch lines run only in a daily UTC window, `tenant=HH:MM-HH:MM,...`. */
  BATCH_OFF_PEAK: z
    .string()
    .default('')
    .transform((v, ctx) => {
      try {
        return parseOffPeak(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  /** How long a BullMQ job's lock lasts: a crashed process's lines run again this long later. */
  BATCH_LOCK_MS: z.coerce.number().int().min(1_000).default(10_000),
  /** Share of the fleet's slots batch work leaves free for interactive tiers. */
  BATCH_HEADROOM: z.coerce.number().min(0).max(1).default(0.25),
});

runMain(() =>
  runService({
    service: 'batch',
    env,
    async start({ config, logger, openBucket }) {
      const sql = postgres(config.DATABASE_URL, { max: 16, onnotice: () => {} });
      const tenants = await openTenantStore(await openBucket(buckets.tenants), parseApiKeys(config.API_KEYS), (key, e) =>
        logger.warn({ key, err: e }, 'ignoring an invalid tenants entry'),
      );
      const url = new URL(config.REDIS_URL);
      const batch = createBatchService({
        sql,
        redis: { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0), password: url.password || undefined },
        keyring: tenants.keyring,
        logger,
        poolsKv: await openBucket(buckets.pools, { ttl: 10_000 }),
        admission: { baseUrl: config.ADMISSION_HTTP_URL, apiKey: config.BATCH_SERVICE_API_KEY },
        listen: config.BATCH_LISTEN,
        httpListen: config.BATCH_HTTP_LISTEN,
        runWorkers: config.BATCH_WORKERS,
        offPeak: config.BATCH_OFF_PEAK,
        backfill: { headroom: config.BATCH_HEADROOM },
        lockDurationMs: config.BATCH_LOCK_MS,
      });
      const addresses = await batch.start();
      logger.info(addresses, 'batch serving');
      return { stop: async () => (await batch.stop(), await tenants.stop(), await sql.end({ timeout: 5 })) };
    },
  }),
);

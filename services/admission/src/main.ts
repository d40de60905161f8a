import { Redis } from 'ioredis';
import { openTenantStore, parseApiKeys } from '@switchyard/auth';
import { listenAddress, redisEnv, tlsEnv, tlsFilesOf, z } from '@switchyard/config';
import { buckets, parseTierCounts } from '@switchyard/contracts';
import { openPolicyStore } from '@switchyard/policy-rules';
import { runMain, runService } from '@switchyard/runtime';
import { DEFAULT_CONNECTION_LIMITS as LIMITS } from './connection-limits.js';
import { createPolicyClient } from './policy-client.js';
import { ADMISSION_REDIS_OPTIONS } from './redis-options.js';
import { createAdmission } from './service.js';

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const settings = z.object({
  ...redisEnv,
  /** TLS for the gRPC and HTTP listeners, both: callers then need the CA (SWITCHYARD_TLS_CA for the CLI). */
  ...tlsEnv,
  ADMISSION_LISTEN: listenAddress('127.0.0.1:50051'),
  /** OpenAI-compatible facade; "off" disables it. */
  HTTP_LISTEN: z.union([z.literal('off'), listenAddress('127.0.0.1:8080')]).default('127.0.0.1:8080'),
  POLICY_ADDR: z.string().default('127.0.0.1:50052'),
  /** The batch service's Files and Batches API, forwarded at `/v1/files` and `/v1/batches`; "off" turns them off. */
  BATCH_HTTP_URL: z.union([z.literal('off'), z.string().url()]).default('http://127.0.0.1:8081'),
  /** Seed keys, `tenant:keyId:sha256hex[:operator]`, comma-separated; more live in the `tenants` KV bucket. */
  API_KEYS: z.string().default(''),
  MAX_PROMPT_TOKENS: z.coerce.number().int().positive().default(32_768),
  MAX_OUTPUT_TOKENS: z.coerce.number().int().positive().default(4_096),
  DEFAULT_MAX_TOKENS: z.coerce.number().int().positive().default(256),
  /** Tokens per prompt block of the prefix identity sent to the workers' prefix caches; 0 sends none. */
  PREFIX_BLOCK_TOKENS: z.coerce.number().int().min(0).max(4_096).default(64),
  /** Calls one tenant may run at once in this process per tier, e.g. `internal=64,batch=32`; unnamed tiers keep their defaults. */
  TENANT_IN_FLIGHT: z
    .string()
    .default('')
    .transform((v, ctx) => {
      try {
        return parseTierCounts(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  /** A gRPC connection with no call open is closed (GOAWAY) after this many ms; clients reconnect on their next call. */
  GRPC_MAX_CONNECTION_IDLE_MS: ms(LIMITS.grpcIdleMs),
  /** A Generate stream whose caller takes none of its waiting output for this many ms is reset and its request cancelled. */
  STALLED_STREAM_MS: ms(LIMITS.stalledStreamMs),
  /** An HTTP request's headers must arrive within this many ms (a connection that sends nothing is closed then too). */
  HTTP_HEADERS_TIMEOUT_MS: ms(LIMITS.httpHeadersTimeoutMs),
  /** An HTTP request must arrive whole, body included, within this many ms. */
  HTTP_REQUEST_TIMEOUT_MS: ms(LIMITS.httpRequestTimeoutMs),
  /** An idle keep-alive HTTP connection is closed after this many ms; keep it above the load balancer's idle timeout. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: ms(LIMITS.httpKeepAliveTimeoutMs),
});

const env = settings.refine((c) => c.HTTP_HEADERS_TIMEOUT_MS <= c.HTTP_REQUEST_TIMEOUT_MS, {
  message: 'HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS: headers are part of the request',
  path: ['HTTP_HEADERS_TIMEOUT_MS'],
});

runMain(() =>
  runService({
    service: 'admission',
    env,
    async start({ config, logger, registry, nc, js, openBucket }) {
      const redis = new Redis(config.REDIS_URL, ADMISSION_REDIS_OPTIONS);
      // ioredis reports every failed reconnect; one line per outage is enough (calls say UNAVAILABLE).
      let redisDown = false;
      redis.on('error', (e: Error) => {
        if (!redisDown) logger.warn({ err: e.message }, 'Redis unreachable; calls answer UNAVAILABLE until it is back');
        redisDown = true;
      });
      redis.on('ready', () => {
        if (redisDown) logger.info('Redis reachable again');
        redisDown = false;
      });
      const tenants = await openTenantStore(await openBucket(buckets.tenants), parseApiKeys(config.API_KEYS), (key, e) =>
        logger.warn({ key, err: e }, 'ignoring an invalid tenants entry'),
      );
      const policies = await openPolicyStore({
        kv: await openBucket(buckets.policies),
        onError: (e) => logger.warn({ err: e }, 'policy document rejected'),
      });
      const admission = createAdmission({
        nc,
        js,
        redis,
        logger,
        registry,
        keyring: tenants.keyring,
        tenantSettings: tenants.settings,
        outputPolicy: policies.policyFor,
        policy: createPolicyClient(config.POLICY_ADDR),
        limits: { maxPromptTokens: config.MAX_PROMPT_TOKENS, maxOutputTokens: config.MAX_OUTPUT_TOKENS, defaultMaxTokens: config.DEFAULT_MAX_TOKENS },
        prefixBlockTokens: config.PREFIX_BLOCK_TOKENS,
        listen: config.ADMISSION_LISTEN,
        inFlightPerTenant: config.TENANT_IN_FLIGHT,
        httpListen: config.HTTP_LISTEN === 'off' ? undefined : config.HTTP_LISTEN,
        tls: tlsFilesOf(config),
        connectionLimits: {
          grpcIdleMs: config.GRPC_MAX_CONNECTION_IDLE_MS,
          stalledStreamMs: config.STALLED_STREAM_MS,
          httpHeadersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
          httpRequestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
          httpKeepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
        },
        batchApiUrl: config.BATCH_HTTP_URL === 'off' ? undefined : config.BATCH_HTTP_URL,
        routesKv: await openBucket(buckets.routes),
        pricebookKv: await openBucket(buckets.pricebook),
      });
      const addresses = await admission.start();
      logger.info(addresses, 'admission serving');
      return { stop: async () => (await admission.stop(), await tenants.stop(), await policies.stop(), redis.disconnect()) };
    },
  }),
);

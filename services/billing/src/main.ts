import postgres from 'postgres';
import { openTenantStore, parseApiKeys } from '@switchyard/auth';
import { buckets } from '@switchyard/contracts';
import { databaseEnv, listenAddress, loadPoolsFile, tlsEnv, tlsFilesOf, z } from '@switchyard/config';
import { runMain, runService } from '@switchyard/runtime';
import { createBilling } from './service.js';

const env = z.object({
  ...databaseEnv,
  BILLING_LISTEN: listenAddress('127.0.0.1:50053'),
  /** TLS for the gRPC API: callers then need the CA (SWITCHYARD_TLS_CA for the CLI). */
  ...tlsEnv,
  /** Seed keys, `tenant:keyId:sha256hex[:operator]`; more live in the `tenants` KV bucket. */
  API_KEYS: z.string().default(''),
  /** Pools file (deploy/pools.yaml) for GPU cost per pool; without it no GPU cost is accrued. */
  POOLS_FILE: z.string().optional(),
  /** How often reconciliation checks the last two whole hours; 0 turns it off. */
  BILLING_RECONCILE_EVERY_MS: z.coerce.number().int().min(0).default(600_000),
});

runMain(() =>
  runService({
    service: 'billing',
    env,
    async start({ config, logger, js, registry, openBucket }) {
      const sql = postgres(config.DATABASE_URL, { max: 16, onnotice: () => {} });
      // The same keys as admission, live: a key created or revoked with the CLI works here too.
      const tenants = await openTenantStore(await openBucket(buckets.tenants), parseApiKeys(config.API_KEYS), (key, e) =>
        logger.warn({ key, err: e }, 'ignoring an invalid tenants entry'),
      );
      const billing = createBilling({
        js,
        sql,
        logger,
        registry,
        keyring: tenants.keyring,
        tenantExists: tenants.exists,
        listen: config.BILLING_LISTEN,
        tls: tlsFilesOf(config),
        pools: config.POOLS_FILE ? loadPoolsFile(config.POOLS_FILE) : [],
        reconcileEveryMs: config.BILLING_RECONCILE_EVERY_MS,
        pricebookKv: await openBucket(buckets.pricebook),
        poolsKv: await openBucket(buckets.pools, { ttl: 10_000 }),
      });
      const address = await billing.start();
      logger.info({ address }, 'billing serving gRPC');
      return { stop: async () => (await billing.stop(), await tenants.stop(), await sql.end({ timeout: 5 })) };
    },
  }),
);

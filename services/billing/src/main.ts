import postgres from 'postgres';
import { createKeyring, parseApiKeys } from '@switchyard/auth';
import { openBucket } from '@switchyard/bus';
import { buckets } from '@switchyard/contracts';
import { databaseEnv, listenAddress, loadPoolsFile, z } from '@switchyard/config';
import { runMain, runService } from '@switchyard/runtime';
import { createBilling } from './service.js';

const env = z.object({
  ...databaseEnv,
  BILLING_LISTEN: listenAddress('127.0.0.1:50053'),
  API_KEYS: z.string().min(1, 'set API_KEYS (switchyard up writes one for the dev tenant)'),
  /** Pools file (deploy/pools.yaml) for GPU cost per pool; without it no GPU cost is accrued. */
  POOLS_FILE: z.string().optional(),
  /** How often reconciliation checks the last two whole hours; 0 turns it off. */
  BILLING_RECONCILE_EVERY_MS: z.coerce.number().int().min(0).default(600_000),
});

runMain(() =>
  runService({
    service: 'billing',
    env,
    async start({ config, logger, nc, js, registry }) {
      const sql = postgres(config.DATABASE_URL, { max: 16, onnotice: () => {} });
      const billing = createBilling({
        js, sql, logger, registry,
        keyring: createKeyring(parseApiKeys(config.API_KEYS)),
        listen: config.BILLING_LISTEN,
        pools: config.POOLS_FILE ? loadPoolsFile(config.POOLS_FILE) : [],
        reconcileEveryMs: config.BILLING_RECONCILE_EVERY_MS,
        pricebookKv: await openBucket(nc, buckets.pricebook),
      });
      const address = await billing.start();
      logger.info({ address }, 'billing serving gRPC');
      return { stop: async () => (await billing.stop(), await sql.end()) };
    },
  }),
);

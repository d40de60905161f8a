import postgres from 'postgres';
import { createKeyring, parseApiKeys } from '@switchyard/auth';
import { databaseEnv, listenAddress, z } from '@switchyard/config';
import { runMain, runService } from '@switchyard/runtime';
import { createBilling } from './service.js';

const env = z.object({
  ...databaseEnv,
  BILLING_LISTEN: listenAddress('127.0.0.1:50053'),
  API_KEYS: z.string().min(1, 'set API_KEYS (switchyard up writes one for the dev tenant)'),
});

runMain(() =>
  runService({
    service: 'billing',
    env,
    async start({ config, logger, js }) {
      const sql = postgres(config.DATABASE_URL, { max: 16, onnotice: () => {} });
      const billing = createBilling({ js, sql, logger, keyring: createKeyring(parseApiKeys(config.API_KEYS)), listen: config.BILLING_LISTEN });
      const address = await billing.start();
      logger.info({ address }, 'billing serving gRPC');
      return { stop: async () => (await billing.stop(), await sql.end()) };
    },
  }),
);

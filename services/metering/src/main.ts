import postgres from 'postgres';
import { databaseEnv, z } from '@switchyard/config';
import { runMain, runService } from '@switchyard/runtime';
import { createMetering } from './service.js';

runMain(() =>
  runService({
    service: 'metering',
    env: z.object({ ...databaseEnv }),
    async start({ config, logger, nc, js, registry }) {
      const sql = postgres(config.DATABASE_URL, { max: 8, onnotice: () => {} });
      const metering = createMetering({ nc, js, sql, logger, registry });
      await metering.start();
      return { stop: async () => (await metering.stop(), await sql.end({ timeout: 5 })) };
    },
  }),
);

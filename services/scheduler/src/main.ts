import { openBucket } from '@switchyard/bus';
import { loadPoolsFile, z } from '@switchyard/config';
import { buckets } from '@switchyard/contracts';
import { runMain, runService } from '@switchyard/runtime';
import { createScheduler } from './service.js';

const env = z.object({ POOLS_FILE: z.string().default('deploy/pools.yaml') });

runMain(() =>
  runService({
    service: 'scheduler',
    env,
    async start({ config, logger, nc, js }) {
      const scheduler = createScheduler({
        js,
        logger,
        pools: loadPoolsFile(config.POOLS_FILE),
        poolsKv: await openBucket(nc, buckets.pools, { ttl: 10_000 }),
      });
      await scheduler.start();
      return scheduler;
    },
  }),
);

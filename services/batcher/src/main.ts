import { BATCHING_BUCKET } from '@switchyard/bus';
import { loadPoolsFile, z } from '@switchyard/config';
import { buckets } from '@switchyard/contracts';
import { runMain, runService } from '@switchyard/runtime';
import { createBatcher } from './service.js';

const env = z.object({ POOLS_FILE: z.string().default('deploy/pools.yaml') });

runMain(() =>
  runService({
    service: 'batcher',
    env,
    async start({ config, logger, registry, js, openBucket }) {
      const batcher = createBatcher({
        js,
        logger,
        registry,
        pools: loadPoolsFile(config.POOLS_FILE),
        poolsKv: await openBucket(buckets.pools, { ttl: 10_000 }),
        batchingKv: await openBucket(buckets.batching, BATCHING_BUCKET),
      });
      await batcher.start();
      return batcher;
    },
  }),
);

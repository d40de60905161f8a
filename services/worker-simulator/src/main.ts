import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { openBucket } from '@switchyard/bus';
import { loadPoolsFile, z } from '@switchyard/config';
import { buckets } from '@switchyard/contracts';
import { runMain, runService } from '@switchyard/runtime';
import { createWorkerSimulator } from './service.js';

const env = z.object({
  POOLS_FILE: z.string().default('deploy/pools.yaml'),
  /** Comma-separated pool ids to host; empty hosts every pool in the file. */
  WORKER_POOLS: z.string().default(''),
  TOKEN_DELAY_MS: z.coerce.number().min(0).default(10),
});

runMain(() =>
  runService({
    service: 'worker-simulator',
    env,
    async start({ config, logger, nc, js }) {
      const wanted = config.WORKER_POOLS.split(',').map((s) => s.trim()).filter(Boolean);
      const pools = loadPoolsFile(config.POOLS_FILE).filter((p) => wanted.length === 0 || wanted.includes(p.id));
      const simulator = createWorkerSimulator({
        nc,
        js,
        logger,
        pools,
        poolsKv: await openBucket(nc, buckets.pools, { ttl: 10_000 }),
        instanceId: `${hostname()}-${randomBytes(3).toString('hex')}`,
        tokenDelayMs: config.TOKEN_DELAY_MS,
      });
      await simulator.start();
      return simulator;
    },
  }),
);

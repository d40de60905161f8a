import { createKeyring, parseApiKeys } from '@switchyard/auth';
import { listenAddress, loadPoolsFile, z } from '@switchyard/config';
import { buckets } from '@switchyard/contracts';
import { runMain, runService } from '@switchyard/runtime';
import { POLICIES, loadSchedulingFile } from './config.js';
import { startOpsServer } from './ops/grpc.js';
import { PLACEMENT_RECORD_TTL_MS } from './placement/records.js';
import { createScheduler } from './service.js';

const env = z.object({
  /** Pools, and the `scheduling:` section (tiers, routes, residency, canary thresholds). */
  POOLS_FILE: z.string().default('deploy/pools.yaml'),
  /** Overrides `scheduling.policy`: switchyard, or a baseline for benchmarks. */
  SCHEDULER_POLICY: z.enum(POLICIES).optional(),
  /** gRPC OpsService (operator API); `off` serves none. Two replicas on one host need two ports. */
  OPS_LISTEN: z.union([z.literal('off'), listenAddress('127.0.0.1:50055')]).default('off'),
  /** Keys allowed on the Ops API (`tenant:keyId:sha256hex:operator`); only operator keys pass. */
  API_KEYS: z.string().default(''),
});

runMain(() =>
  runService({
    service: 'scheduler',
    env,
    // It follows `dispatch.>` for other replicas' placements; its own it counted when it made them.
    noEcho: true,
    async start({ config, logger, registry, nc, js, openBucket }) {
      const scheduling = loadSchedulingFile(config.POOLS_FILE);
      const scheduler = createScheduler({
        js,
        nc,
        logger,
        registry,
        pools: loadPoolsFile(config.POOLS_FILE),
        config: config.SCHEDULER_POLICY ? { ...scheduling, policy: config.SCHEDULER_POLICY } : scheduling,
        poolsKv: await openBucket(buckets.pools, { ttl: 10_000 }),
        routesKv: await openBucket(buckets.routes),
        batchingKv: await openBucket(buckets.batching, { ttl: 3_600_000 }),
        placementsKv: await openBucket(buckets.placements, { ttl: PLACEMENT_RECORD_TTL_MS }),
      });
      await scheduler.start();
      const ops =
        config.OPS_LISTEN === 'off'
          ? undefined
          : await startOpsServer(config.OPS_LISTEN, () => scheduler.ops, createKeyring(config.API_KEYS ? parseApiKeys(config.API_KEYS) : []), logger);
      if (ops) logger.info({ address: ops.address }, 'scheduler serving the Ops API');
      return { stop: async () => (await ops?.stop(), await scheduler.stop()) };
    },
  }),
);

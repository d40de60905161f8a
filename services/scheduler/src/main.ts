import { createKeyring, openTenantStore, parseApiKeys, type Keyring } from '@switchyard/auth';
import { BATCHING_BUCKET, connectBus, openBucket as openBucketOn } from '@switchyard/bus';
import { listenAddress, loadPoolsFile, z } from '@switchyard/config';
import { buckets } from '@switchyard/contracts';
import { runMain, runService } from '@switchyard/runtime';
import { POLICIES, loadSchedulingFile } from './config.js';
import { startConsoleFeed } from './console/console-feed.js';
import { startConsoleServer } from './console/http.js';
import { startOpsServer } from './ops/grpc.js';
import { PLACEMENTS_BUCKET } from './placement/records.js';
import { createScheduler } from './service.js';

const env = z.object({
  /** Pools, and the `scheduling:` section (tiers, routes, residency, canary thresholds). */
  POOLS_FILE: z.string().default('deploy/pools.yaml'),
  /** Overrides `scheduling.policy`: switchyard, or a baseline for benchmarks. */
  SCHEDULER_POLICY: z.enum(POLICIES).optional(),
  /** gRPC OpsService (operator API); `off` serves none. Two replicas on one host need two ports. */
  OPS_LISTEN: z.union([z.literal('off'), listenAddress('127.0.0.1:50055')]).default('off'),
  /** The live operator console over HTTP (`/console`); `off` serves none. */
  CONSOLE_LISTEN: z.union([z.literal('off'), listenAddress('127.0.0.1:8090')]).default('off'),
  /**
   * Keys allowed on the Ops API and the console (`tenant:keyId:sha256hex:operator`), besides
   * the keys of the `tenants` bucket; only operator keys may change anything.
   */
  API_KEYS: z.string().default(''),
});

runMain(() =>
  runService({
    service: 'scheduler',
    env,
    // It follows `dispatch.>` for other replicas' placements; its own it counted when it made them.
    noEcho: true,
    async start({ config, common, logger, registry, nc, js, openBucket }) {
      const scheduling = loadSchedulingFile(config.POOLS_FILE);
      const pools = loadPoolsFile(config.POOLS_FILE);
      const scheduler = createScheduler({
        js,
        nc,
        logger,
        registry,
        pools,
        config: config.SCHEDULER_POLICY ? { ...scheduling, policy: config.SCHEDULER_POLICY } : scheduling,
        poolsKv: await openBucket(buckets.pools, { ttl: 10_000 }),
        routesKv: await openBucket(buckets.routes),
        batchingKv: await openBucket(buckets.batching, BATCHING_BUCKET),
        placementsKv: await openBucket(buckets.placements, PLACEMENTS_BUCKET),
      });
      await scheduler.start();
      const seed = config.API_KEYS ? parseApiKeys(config.API_KEYS) : [];
      const operatorFacing = config.OPS_LISTEN !== 'off' || config.CONSOLE_LISTEN !== 'off';
      // Tenants' keys too, so a viewer's attempt to change something is refused as such (and
      // audited), not taken for an unknown key.
      const tenants = operatorFacing ? await openTenantStore(await openBucket(buckets.tenants), seed) : undefined;
      const keyring: Keyring = tenants?.keyring ?? createKeyring(seed);
      const ops =
        config.OPS_LISTEN === 'off' ? undefined : await startOpsServer(config.OPS_LISTEN, () => scheduler.ops, scheduler.operatorActions, keyring, logger);
      if (ops) logger.info({ address: ops.address }, 'scheduler serving the Ops API');
      let liveConsole: { stop(): Promise<void> } | undefined;
      if (config.CONSOLE_LISTEN !== 'off') {
        // Its own connection: the scheduler's does not hear its own publishes (noEcho), and the
        // console must list this replica's placements too.
        const consoleNc = await connectBus({ url: common.NATS_URL, name: 'scheduler-console' });
        const feed = await startConsoleFeed({
          nc: consoleNc,
          pools,
          ops: () => scheduler.ops,
          pricebookKv: await openBucketOn(consoleNc, buckets.pricebook),
          ttftObjectivesMs: Object.fromEntries(Object.entries(scheduling.tiers).map(([tier, t]) => [tier, t.ttftMs])),
          logger,
          now: Date.now,
        });
        const server = await startConsoleServer({ listen: config.CONSOLE_LISTEN, keyring, feed, actions: scheduler.operatorActions, logger });
        logger.info({ url: `${server.url}/console` }, 'scheduler serving the live console');
        liveConsole = {
          async stop() {
            await server.stop();
            feed.stop();
            await consoleNc.close();
          },
        };
      }
      return {
        stop: async () => {
          await liveConsole?.stop();
          await ops?.stop();
          await tenants?.stop();
          await scheduler.stop();
        },
      };
    },
  }),
);

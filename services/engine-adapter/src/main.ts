import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { commaList, loadPoolsFile, poolKind, z } from '@switchyard/config';
import { buckets } from '@switchyard/contracts';
import { runMain, runService } from '@switchyard/runtime';
import { countPromptTokens } from '@switchyard/tokenizer';
import { createAdapterMetrics } from './metrics.js';
import { createEngineAdapter } from './service.js';

const env = z.object({
  POOLS_FILE: z.string().default('deploy/pools.yaml'),
  /** Comma-separated pool ids to serve; empty serves every `openai-compatible` and `provider` pool in the file. */
  ADAPTER_POOLS: commaList,
  /** Ack wait of the batches consumer; a crashed adapter's batches come back after it. */
  ADAPTER_ACK_WAIT_MS: z.coerce.number().int().min(1_000).default(30_000),
});

runMain(() =>
  runService({
    service: 'engine-adapter',
    env,
    // Workers pull their pool's batches on the pool's durable, `workers-<pool>`.
    ownsConsumer: (consumer) => consumer.startsWith('workers-'),
    async start({ config, logger, nc, js, registry, openBucket }) {
      const wanted = config.ADAPTER_POOLS;
      const pools = loadPoolsFile(config.POOLS_FILE).filter((p) => poolKind(p) !== 'simulated' && (wanted.length === 0 || wanted.includes(p.id)));
      // Only the variables the pools name are read; their values are never logged.
      const apiKeys = Object.fromEntries(pools.flatMap((p) => (p.endpoint?.apiKeyEnv ? [[p.endpoint.apiKeyEnv, process.env[p.endpoint.apiKeyEnv]]] : [])));
      const adapter = createEngineAdapter({
        nc,
        js,
        logger,
        pools,
        apiKeys,
        poolsKv: await openBucket(buckets.pools, { ttl: 10_000 }),
        instanceId: `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${randomBytes(3).toString('hex')}`,
        // The tokenizer counts a begin-of-text token an output does not have.
        countTokens: (text) => Math.max(0, countPromptTokens(text) - 1),
        ackWaitMs: config.ADAPTER_ACK_WAIT_MS,
        metrics: createAdapterMetrics(registry),
      });
      await adapter.start();
      logger.info({ pools: adapter.pools() }, 'engine adapter up');
      return adapter;
    },
  }),
);

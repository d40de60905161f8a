import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { commaList, loadPoolsFile, z } from '@switchyard/config';
import { buckets } from '@switchyard/contracts';
import { runMain, runService } from '@switchyard/runtime';
import { Counter, Histogram } from '@switchyard/telemetry';
import { createWorkerSimulator } from './service.js';
import { speedSetting } from './speed-setting.js';

const env = z.object({
  POOLS_FILE: z.string().default('deploy/pools.yaml'),
  /** Comma-separated pool ids to host; empty hosts every pool in the file. */
  WORKER_POOLS: commaList,
  /** Simulated time per real time: 1 = real time, 10 = ten times faster, max = no sleeping. */
  WORKER_SPEED: speedSetting,
  /** Ack wait of the batches consumer; a crashed worker's batches come back after it. */
  WORKER_ACK_WAIT_MS: z.coerce.number().int().min(1_000).default(30_000),
  /** Tokens per chunk sent to a request's inbox. */
  WORKER_CHUNK_TOKENS: z.coerce.number().int().min(1).default(4),
  /** `on` takes operator fault commands on `ops.worker.>` (chaos runs); `off` ignores them. */
  WORKER_FAULTS: z
    .enum(['on', 'off'])
    .default('off')
    .transform((v) => v === 'on'),
});

runMain(() =>
  runService({
    service: 'worker-simulator',
    env,
    // Workers pull their pool's batches on the pool's durable, `workers-<pool>`.
    ownsConsumer: (consumer) => consumer.startsWith('workers-'),
    async start({ config, logger, nc, js, registry, openBucket }) {
      const wanted = config.WORKER_POOLS;
      const pools = loadPoolsFile(config.POOLS_FILE).filter((p) => wanted.length === 0 || wanted.includes(p.id));
      const stepMs = new Histogram({
        name: 'switchyard_worker_step_ms',
        help: 'Simulated duration of one engine step',
        labelNames: ['pool'],
        registers: [registry],
        buckets: [2, 5, 10, 20, 50, 100, 200, 500],
      });
      const tokens = new Counter({ name: 'switchyard_worker_tokens_total', help: 'Output tokens generated', labelNames: ['pool'], registers: [registry] });
      const simulator = createWorkerSimulator({
        nc,
        js,
        logger,
        pools,
        poolsKv: await openBucket(buckets.pools, { ttl: 10_000 }),
        instanceId: `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${randomBytes(3).toString('hex')}`,
        speed: config.WORKER_SPEED,
        ackWaitMs: config.WORKER_ACK_WAIT_MS,
        chunkTokens: config.WORKER_CHUNK_TOKENS,
        faults: config.WORKER_FAULTS,
        onStep: (step, worker) => {
          stepMs.observe({ pool: worker.pool }, step.durationMs);
          tokens.inc({ pool: worker.pool }, step.tokens.length);
        },
      });
      await simulator.start();
      logger.info({ workers: simulator.workers(), speed: config.WORKER_SPEED, faults: config.WORKER_FAULTS ? 'on' : 'off' }, 'workers up');
      return simulator;
    },
  }),
);

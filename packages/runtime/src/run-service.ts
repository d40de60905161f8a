import { followConsumerLag } from './consumer-lag.js';
import { stopOnSignals } from './stop-on-signals.js';
import {
  connectBus,
  followConnectionHealth,
  jetstream,
  openBucket,
  provisionStreams,
  type BucketOptions,
  type JetStreamClient,
  type KV,
  type NatsConnection,
} from '@switchyard/bus';
import { commonEnv, loadConfig, z } from '@switchyard/config';
import { streams } from '@switchyard/contracts';
import { createLogger, createMetricsRegistry, serveMetrics, startTracing, type Logger, type Registry } from '@switchyard/telemetry';

/** What every service's composition root gets before it builds its own parts. */
export type CommonConfig = z.infer<typeof commonSchema>;

const commonSchema = z.object(commonEnv);

export interface ServiceContext<C> {
  /** The service's own settings. */
  readonly config: C;
  readonly common: CommonConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  /**
   * Opens a KV bucket on `nc`, created when missing with `STREAM_REPLICAS` replicas like the
   * streams: on a cluster the buckets survive a node as the streams do.
   */
  readonly openBucket: (name: string, options?: BucketOptions) => Promise<KV>;
}

export interface Stoppable {
  stop(): Promise<void>;
}

export interface RunServiceOptions<S extends z.ZodType> {
  readonly service: string;
  /** Service-specific environment variables, on top of the common ones. */
  readonly env: S;
  /** Passed to {@link connectBus}: the service never hears its own publishes. Default false. */
  readonly noEcho?: boolean;
  /**
   * The durable consumers whose lag and dead letters this service reports. Default: those
   * named after it (`<service>` or `<service>-...`), the house naming for durables.
   */
  readonly ownsConsumer?: (consumer: string) => boolean;
  readonly start: (ctx: ServiceContext<z.infer<S>>) => Promise<Stoppable>;
}

/**
 * The shared shape of every `main.ts`: config -> logger -> NATS -> streams -> service ->
 * metrics; SIGTERM/SIGINT stop the service, then drain the connection so in-flight
 * publishes and acks reach the server before the process exits.
 */
export async function runService<S extends z.ZodType>(options: RunServiceOptions<S>): Promise<void> {
  const common = loadConfig(commonSchema, process.env);
  const config = loadConfig(options.env, process.env);
  const logger = createLogger({ service: options.service, level: common.LOG_LEVEL });
  const registry = createMetricsRegistry(options.service);
  const tracing = await startTracing({ service: options.service, env: common });
  if (tracing.enabled) logger.info('exporting traces over OTLP');
  const nc = await connectBus({ url: common.NATS_URL, name: options.service, noEcho: options.noEcho });
  const js = jetstream(nc);
  await provisionStreams(await js.jetstreamManager(), Object.values(streams), { replicas: common.STREAM_REPLICAS });
  const running = await options.start({
    config,
    common,
    logger,
    registry,
    nc,
    js,
    openBucket: (name, bucketOptions) => openBucket(nc, name, { replicas: common.STREAM_REPLICAS, ...bucketOptions }),
  });
  const lag = followConsumerLag({
    jsm: await js.jetstreamManager(),
    registry,
    owns: options.ownsConsumer ?? ((c) => c === options.service || c.startsWith(`${options.service}-`)),
    onError: (e) => logger.warn({ err: e }, 'could not read consumer lag'),
  });
  const bus = followConnectionHealth(nc, (up) => (up ? logger.info('NATS connection back') : logger.warn('NATS connection lost; reconnecting')));
  const metrics = await serveMetrics(registry, common.METRICS_PORT, common.METRICS_HOST, () =>
    bus.connected ? undefined : 'NATS connection lost; reconnecting',
  );
  logger.info({ metricsPort: metrics.port, pid: process.pid }, `${options.service} started`);

  const shutdown = stopOnSignals(logger, options.service, async () => {
    lag.stop();
    await running.stop();
    bus.stop();
    await metrics.close();
    await nc.drain();
    await tracing.shutdown();
  });
  if (common.EXIT_WITH_PARENT) {
    // A parent killed with SIGKILL sends no signal on; notice the re-parenting instead.
    const parent = process.ppid;
    setInterval(() => process.ppid !== parent && shutdown('parent exited'), 1_000).unref();
  }
}

/** Runs `main`, and exits non-zero with a readable message when start-up fails. */
export function runMain(main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}

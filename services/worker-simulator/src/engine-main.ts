import { commaList, commonEnv, listenAddress, loadConfig, splitHostPort, z } from '@switchyard/config';
import { GPU_PROFILE_FILES, type GpuType } from '@switchyard/perf-model';
import { runMain, stopOnSignals } from '@switchyard/runtime';
import { createLogger } from '@switchyard/telemetry';
import { parseHttpFaults } from './domain/http-faults.js';
import { ENGINE_MODELS, createEngineServer } from './engine-server.js';
import { speedSetting } from './speed-setting.js';

/**
 * Composition root of the engine simulator: one simulated GPU behind an OpenAI-compatible HTTP
 * server, with no NATS (`tsx services/worker-simulator/src/engine-main.ts`).
 */
const env = z.object({
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  /** host:port to listen on; port 0 picks a free one (the ready line names it). */
  ENGINE_LISTEN: listenAddress('127.0.0.1:8000'),
  ENGINE_MODEL: z.enum(ENGINE_MODELS).default('llama-3.1-8b'),
  ENGINE_GPU: z.enum(Object.keys(GPU_PROFILE_FILES) as [GpuType, ...GpuType[]]).default('h100-80gb'),
  /** Comma-separated names the `model` field may give (vLLM's --served-model-name); default the model id. */
  ENGINE_SERVED_MODEL_NAME: commaList,
  /** Sequences running at once (vLLM's --max-num-seqs). */
  ENGINE_SLOTS: z.coerce.number().int().min(1).default(32),
  /** Tokens one engine step pushes through the model (vLLM's --max-num-batched-tokens). */
  ENGINE_MAX_BATCH_TOKENS: z.coerce.number().int().min(1).default(2048),
  /** Simulated time per real time: 1 = real time, 10 = ten times faster, max = no sleeping. */
  ENGINE_SPEED: speedSetting,
  /** When set, /v1 and /admin need `Authorization: Bearer <key>`. */
  ENGINE_API_KEY: z.string().optional(),
  /** `on` opens POST/DELETE /admin/faults (tests, chaos runs); `off` answers 404 there. */
  ENGINE_FAULTS: z
    .enum(['on', 'off'])
    .default('off')
    .transform((v) => v === 'on'),
  /** Faults in force from the start, as JSON in the shape /admin/faults takes (`{"status":429,"retryAfterS":2}`). */
  ENGINE_INITIAL_FAULTS: z
    .string()
    .default('{}')
    .transform((s, ctx) => {
      try {
        return parseHttpFaults(JSON.parse(s));
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
});

async function main() {
  const config = loadConfig(env, process.env);
  const logger = createLogger({ service: 'engine-simulator', level: config.LOG_LEVEL });
  const { host, port } = splitHostPort(config.ENGINE_LISTEN);
  const names = config.ENGINE_SERVED_MODEL_NAME;
  const server = createEngineServer({
    model: config.ENGINE_MODEL,
    gpu: config.ENGINE_GPU,
    servedModelNames: names,
    slots: config.ENGINE_SLOTS,
    maxBatchTokens: config.ENGINE_MAX_BATCH_TOKENS,
    speed: config.ENGINE_SPEED,
    host,
    port,
    apiKey: config.ENGINE_API_KEY || undefined,
    faultsEnabled: config.ENGINE_FAULTS,
    faults: config.ENGINE_INITIAL_FAULTS,
    logger,
  });
  const urls = await server.start();
  logger.info(
    { ...urls, model: config.ENGINE_MODEL, gpu: config.ENGINE_GPU, speed: config.ENGINE_SPEED, faults: config.ENGINE_FAULTS ? 'on' : 'off', pid: process.pid },
    'engine-simulator started',
  );

  stopOnSignals(logger, 'engine-simulator', () => server.stop());
}

runMain(main);

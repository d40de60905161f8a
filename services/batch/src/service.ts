import { randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'bullmq';
import type { Keyring } from '@switchyard/auth';
import { splitHostPort } from '@switchyard/config';
import { watchHeartbeats, type HeartbeatWatch, type KV } from '@switchyard/bus';
import { BatchServiceService } from '@switchyard/contracts';
import { serve, type Served } from '@switchyard/grpc-edge';
import type { Logger } from '@switchyard/telemetry';
import type { Sql } from 'postgres';
import { createAdmissionClient } from './admission-client.js';
import { createBackfillGate } from './backfill-gate.js';
import { createBatchApi, DEFAULT_UPLOAD_LIMITS, type UploadLimits } from './batch-api.js';
import { createBatchStore } from './batch-store.js';
import { createControlJobs } from './control-jobs.js';
import { DEFAULT_BACKFILL_RULES, type BackfillRules } from './domain/backfill.js';
import type { OffPeakWindow } from './domain/off-peak.js';
import { createFileStore } from './file-store.js';
import { batchHandlers } from './grpc.js';
import { createBatchHttp } from './http.js';
import { migrate } from './migrate.js';
import { openQueues } from './queues.js';
import { createRequestJob } from './request-job.js';
import { createStopWatch } from './stop-watch.js';
import { startBatchWorkers } from './workers.js';

export interface BatchServiceDeps {
  readonly sql: Sql;
  /** Redis for BullMQ (ioredis options; `maxRetriesPerRequest: null` is set here). */
  readonly redis: ConnectionOptions;
  readonly keyring: Keyring;
  readonly logger: Logger;
  /** Workers' heartbeats, for backfill. */
  readonly poolsKv: KV;
  /** Admission's OpenAI facade and the operator key the service acts for tenants with. */
  readonly admission: { readonly baseUrl: string; readonly apiKey: string };
  /** gRPC `host:port`. */
  readonly listen: string;
  /** HTTP `host:port` of the Files and Batches API (admission forwards to it). */
  readonly httpListen: string;
  /** Run the BullMQ workers in this process. Default true; false serves the API only. */
  readonly runWorkers?: boolean;
  readonly uploadLimits?: Partial<UploadLimits>;
  /** Completion window. Default 24 h; tests shorten it. */
  readonly completionWindowMs?: number;
  readonly offPeak?: ReadonlyMap<string, OffPeakWindow>;
  readonly backfill?: Partial<BackfillRules>;
  /** BullMQ key prefix. Default BullMQ's ("bull"). */
  readonly queuePrefix?: string;
  /** See `BatchWorkersOptions.lockDurationMs`. */
  readonly lockDurationMs?: number;
  readonly now?: () => number;
}

export interface BatchService {
  start(): Promise<{ grpc: string; http: string }>;
  stop(): Promise<void>;
}

/**
 * The batch tier: OpenAI's Files and Batches API (HTTP and gRPC), files and batches in
 * Postgres, the work on BullMQ queues, each line sent through admission as tier `batch`
 * while the fleet has idle room.
 */
export function createBatchService(deps: BatchServiceDeps): BatchService {
  const now = deps.now ?? Date.now;
  const connection = { ...(deps.redis as object), maxRetriesPerRequest: null } as ConnectionOptions;
  const uploadLimits = { ...DEFAULT_UPLOAD_LIMITS, ...deps.uploadLimits };
  const files = createFileStore(deps.sql);
  const store = createBatchStore(deps.sql);
  const queues = openQueues(connection, deps.queuePrefix, (e, queue) => deps.logger.warn({ err: e.message, queue }, 'batch queue error'));
  const api = createBatchApi({
    files,
    store,
    queues,
    uploadLimits,
    completionWindowMs: deps.completionWindowMs ?? 24 * 3600_000,
    now,
    newId: () => randomUUID().replaceAll('-', ''),
  });
  const http = createBatchHttp({ api, keyring: deps.keyring, logger: deps.logger, maxFileBytes: uploadLimits.maxFileBytes });
  let served: Served | undefined;
  let heartbeats: HeartbeatWatch | undefined;
  let workers: { close(): Promise<void> } | undefined;
  const stops = createStopWatch(store, { onError: (e) => deps.logger.warn({ err: e }, 'could not read batch stop reasons') });

  return {
    async start() {
      await migrate(deps.sql);
      if (deps.runWorkers !== false) {
        const gate = createBackfillGate({ heartbeats: () => heartbeats?.heartbeats() ?? [], now, rules: { ...DEFAULT_BACKFILL_RULES, ...deps.backfill } });
        heartbeats = await watchHeartbeats(deps.poolsKv, gate.wake);
        const control = createControlJobs({
          sql: deps.sql,
          store,
          files,
          queues,
          limits: { maxLineBytes: uploadLimits.maxLineBytes, maxBodyBytes: uploadLimits.maxRequestBytes, maxCustomIdLength: 512 },
          now,
          logger: deps.logger,
        });
        const runLine = createRequestJob({
          store,
          admission: createAdmissionClient(deps.admission),
          gate,
          stops,
          offPeak: deps.offPeak ?? new Map(),
          now,
          onBatchSettled: async (batchId) => void (await queues.finalize(batchId)),
        });
        stops.start();
        workers = startBatchWorkers({
          connection,
          prefix: deps.queuePrefix,
          control,
          runLine,
          store,
          logger: deps.logger,
          lockDurationMs: deps.lockDurationMs,
        });
      }
      served = await serve({
        listen: deps.listen,
        services: [{ definition: BatchServiceService, handlers: batchHandlers({ api, keyring: deps.keyring, logger: deps.logger }) }],
      });
      const { host, port } = splitHostPort(deps.httpListen);
      await http.listen({ host, port });
      const address = http.server.address();
      const httpAddress = typeof address === 'object' && address ? `http://${host}:${address.port}` : deps.httpListen;
      return { grpc: served.address, http: httpAddress };
    },
    async stop() {
      await served?.stop(2_000);
      await http.close();
      stops.stop();
      await workers?.close();
      await heartbeats?.stop();
      await queues.close();
    },
  };
}

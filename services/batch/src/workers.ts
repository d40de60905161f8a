import { DelayedError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from '@switchyard/telemetry';
import type { BatchStore } from './batch-store.js';
import type { ControlJobs } from './control-jobs.js';
import { QUEUES, type ControlJob, type RequestJob } from './queues.js';
import type { RequestJobRunner } from './request-job.js';

export interface BatchWorkersOptions {
  readonly connection: ConnectionOptions;
  readonly prefix?: string;
  readonly control: ControlJobs;
  readonly runLine: RequestJobRunner;
  readonly store: BatchStore;
  readonly logger: Logger;
  /** Request jobs one process holds at once (most of them wait at the backfill gate). Default 256. */
  readonly concurrency?: number;
  /**
   * How long a job's lock lasts without renewal: after a crash its jobs run again this long
   * later. Default 10 s (BullMQ's is 30 s).
   */
  readonly lockDurationMs?: number;
  /** How often batches that made no progress get their missing jobs back. Default 60 s. */
  readonly sweepEveryMs?: number;
}

/**
 * The BullMQ workers of the batch tier: control jobs (validate, expire, wake, finalize) and one
 * job per request line. Stalled jobs of a crashed process are picked up again after their
 * lock lapses; a sweep at start, whenever the connection to Redis comes back, and then for idle
 * batches adds jobs that went missing.
 */
export function startBatchWorkers(options: BatchWorkersOptions) {
  const { logger, control } = options;
  const lockDuration = options.lockDurationMs ?? 10_000;
  const common = { connection: options.connection, prefix: options.prefix, lockDuration, stalledInterval: lockDuration / 2, maxStalledCount: 20 };

  const controlWorker = new Worker<ControlJob>(
    QUEUES.control,
    async (job) => {
      if (job.name === 'validate') return control.validate(job.data.batchId);
      if (job.name === 'expire') return control.expire(job.data.batchId);
      if (job.name === 'finalize') return control.finalize(job.data.batchId);
      if (job.name === 'wake') return control.wake(job.data.batchId);
      throw new Error(`unknown control job "${job.name}"`);
    },
    { ...common, concurrency: 4 },
  );

  const requestWorker = new Worker<RequestJob>(
    QUEUES.requests,
    async (job: Job<RequestJob>, token?: string) => {
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const step = await options.runLine(job.data.batchId, job.data.line, lastAttempt);
      if (step.kind === 'done') return;
      if (step.kind === 'later') {
        await job.moveToDelayed(Date.now() + step.delayMs, token);
        throw new DelayedError();
      }
      throw new Error(step.reason);
    },
    { ...common, concurrency: options.concurrency ?? 256 },
  );

  for (const w of [controlWorker, requestWorker]) {
    w.on('failed', (job, e) => logger.warn({ jobId: job?.id, queue: w.name, err: e.message, attempts: job?.attemptsMade }, 'batch job failed'));
    w.on('stalled', (jobId) => logger.warn({ jobId, queue: w.name }, 'batch job stalled: its worker went away; running it again'));
    w.on('error', (e) => logger.warn({ err: e.message, queue: w.name }, 'batch worker error'));
  }

  const progress = new Map<string, number>();
  const sweep = async (onlyIdle: boolean) => {
    for (const id of await options.store.running()) {
      const b = await options.store.getById(id);
      if (!b) continue;
      const settled = b.completed + b.failed;
      if (onlyIdle && progress.get(id) !== settled) {
        progress.set(id, settled);
        continue;
      }
      progress.set(id, settled);
      await control.sweep(id);
    }
  };
  let sweeping = sweep(false).catch((e: unknown) => logger.warn({ err: e }, 'batch sweep failed'));
  // A Redis that comes back may have lost its data (a new instance, a replica promoted before it
  // caught up): every job of every running batch, and their expiry, gone, while Postgres still
  // holds the lines as pending. The idle sweep would find them only after one or two periods
  // (60-120 s) and never the expiry; sweeping every running batch at each return puts them back
  // within moments, and costs only no-op adds when Redis kept its data.
  let disconnected = false;
  const backend = requestWorker.getBackend();
  backend.on('close', () => (disconnected = true));
  backend.on('ready', () => {
    if (!disconnected) return;
    disconnected = false;
    logger.info('Redis is back: adding again the jobs of running batches it may have lost');
    sweeping = sweeping.then(() => sweep(false)).catch((e: unknown) => logger.warn({ err: e }, 'batch sweep failed'));
  });
  const timer = setInterval(() => void sweep(true).catch((e: unknown) => logger.warn({ err: e }, 'batch sweep failed')), options.sweepEveryMs ?? 60_000);

  return {
    /**
     * Lets running jobs finish for up to `graceMs`, then lets go of the rest: their locks lapse
     * and another process (or this one, restarted) runs them again.
     */
    async close(graceMs = 5_000): Promise<void> {
      clearInterval(timer);
      await sweeping;
      const workers = [controlWorker, requestWorker];
      let timeout: NodeJS.Timeout | undefined;
      const graceful = Promise.all(workers.map((w) => w.close()));
      const late = await Promise.race([graceful.then(() => false), new Promise<boolean>((r) => (timeout = setTimeout(() => r(true), graceMs)))]);
      clearTimeout(timeout);
      if (late) await Promise.all(workers.map((w) => w.close(true)));
    },
  };
}

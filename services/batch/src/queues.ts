import { Queue, type ConnectionOptions } from 'bullmq';

/** Queue names. Control work is small and rare; requests are many and run side by side. */
export const QUEUES = { control: 'switchyard-batch-control', requests: 'switchyard-batch-requests' } as const;

/**
 * Job ids name the work, so adding the same work twice (a fan-out or a sweep that runs
 * again after a crash) is a no-op in BullMQ rather than a second run.
 */
export const jobIds = {
  validate: (batchId: string) => `validate-${batchId}`,
  expire: (batchId: string) => `expire-${batchId}`,
  finalize: (batchId: string) => `finalize-${batchId}`,
  wake: (batchId: string) => `wake-${batchId}`,
  request: (batchId: string, line: number) => `${batchId}-${line}`,
} as const;

export interface ControlJob {
  readonly batchId: string;
}
export interface RequestJob {
  readonly batchId: string;
  readonly line: number;
}

/**
 * Done jobs are removed (their outcome lives in Postgres), so Redis holds only work still to
 * do; failed ones too, so a sweep can add them again.
 */
const DONE = { removeOnComplete: true, removeOnFail: true } as const;

/** Retries of a request that met a platform failure: 6 attempts, 1 s doubling (~1 min in all). */
export const REQUEST_ATTEMPTS = { attempts: 6, backoff: { type: 'exponential', delay: 1_000 } } as const;

/**
 * `onError` hears the queues' connection errors (Redis down); without it BullMQ writes them to
 * stderr, past the service's log. Default: ignored, as the calls that need Redis fail anyway.
 */
export function openQueues(connection: ConnectionOptions, prefix?: string, onError: (e: Error, queue: string) => void = () => {}) {
  const control = new Queue<ControlJob>(QUEUES.control, {
    connection,
    prefix,
    defaultJobOptions: { ...DONE, attempts: 10, backoff: { type: 'exponential', delay: 500 } },
  });
  const requests = new Queue<RequestJob>(QUEUES.requests, { connection, prefix, defaultJobOptions: { ...DONE, ...REQUEST_ATTEMPTS } });
  for (const q of [control, requests]) q.on('error', (e) => onError(e, q.name));
  return {
    control,
    requests,
    validate: (batchId: string) => control.add('validate', { batchId }, { jobId: jobIds.validate(batchId) }),
    expireAfter: (batchId: string, delayMs: number) => control.add('expire', { batchId }, { jobId: jobIds.expire(batchId), delay: Math.max(0, delayMs) }),
    finalize: (batchId: string) => control.add('finalize', { batchId }, { jobId: jobIds.finalize(batchId) }),
    /** Runs the batch's waiting lines now (a stopped batch must not wait for an off-peak window or a backoff to end). */
    wake: (batchId: string) => control.add('wake', { batchId }, { jobId: jobIds.wake(batchId) }),
    /** Promotes the delayed jobs of these lines, so they run (and settle) at once. */
    async promoteLines(batchId: string, lines: readonly number[]): Promise<void> {
      for (const line of lines) {
        const job = await requests.getJob(jobIds.request(batchId, line));
        // The job may move on between the two calls; promoting one that is no longer delayed is refused, harmlessly.
        if (job && (await job.isDelayed())) await job.promote().catch(() => {});
      }
    },
    /** Adds one job per line; lines that already have a job keep it. */
    addRequests: (batchId: string, lines: readonly number[]) =>
      requests.addBulk(lines.map((line) => ({ name: 'request', data: { batchId, line }, opts: { jobId: jobIds.request(batchId, line) } }))),
    close: async () => (await control.close(), await requests.close()),
  };
}

export type Queues = ReturnType<typeof openQueues>;

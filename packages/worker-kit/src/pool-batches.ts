import { MAX_DELIVER_UNTIL_DEADLINE, pullDurable, type DurablePuller, type JetStreamClient } from '@switchyard/bus';
import { durables, streams, subjects } from '@switchyard/contracts';

export interface PoolBatchesOptions {
  readonly js: JetStreamClient;
  readonly pool: string;
  /** How long a pulled batch may stay unacked before it goes to another worker. */
  readonly ackWaitMs: number;
  /** Batches out across every worker of the pool, a backstop to each worker's own room check. */
  readonly maxAckPending: number;
  readonly onError: (error: unknown, context: string) => void;
}

/**
 * A batch is handed back when one of its outcomes could not be recorded (LIFECYCLE or USAGE
 * unable to take writes), a second later each time, until its requests' deadlines end them: a
 * request past its deadline ends EXPIRED before it runs.
 */
const BATCH_MAX_DELIVER = MAX_DELIVER_UNTIL_DEADLINE;

/**
 * A puller of `batches.<pool>` on the pool's one durable consumer, which every worker of the
 * pool shares, simulated or in front of an engine: a batch goes to one of them. One puller per
 * worker, so a crash abandons only its own pull.
 */
export function pullPoolBatches(o: PoolBatchesOptions): Promise<DurablePuller> {
  return pullDurable({
    js: o.js,
    stream: streams.BATCHES.name,
    durable: durables.workers(o.pool),
    filterSubject: subjects.batches(o.pool),
    ackWaitMs: o.ackWaitMs,
    maxAckPending: o.maxAckPending,
    maxDeliver: BATCH_MAX_DELIVER,
    onError: o.onError,
  });
}

export interface WorkerBatchesOptions extends Omit<PoolBatchesOptions, 'maxAckPending'> {
  readonly worker: string;
}

/**
 * A puller of `batches.<pool>.<worker>`: batches the batcher handed to this worker alone,
 * because it holds their prompts' prefixes. Only this worker pulls them while it lives; once it
 * dies, stops or drains, the batcher moves what it left there back to the whole pool.
 */
export function pullWorkerBatches(o: WorkerBatchesOptions): Promise<DurablePuller> {
  return pullDurable({
    js: o.js,
    stream: streams.BATCHES.name,
    durable: durables.worker(o.pool, o.worker),
    filterSubject: subjects.batches(o.pool, o.worker),
    ackWaitMs: o.ackWaitMs,
    maxDeliver: BATCH_MAX_DELIVER,
    onError: o.onError,
  });
}

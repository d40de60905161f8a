import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { StreamSpec } from '@switchyard/contracts';

const nanos = (ms: number) => ms * 1_000_000;

export interface ProvisionOptions {
  /** Stream replicas; 3 on a JetStream cluster. Default 1. */
  readonly replicas?: number;
}

function streamConfig(spec: StreamSpec, options: ProvisionOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: spec.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(spec.maxAgeMs),
    duplicate_window: nanos(spec.duplicateWindowMs),
    num_replicas: options.replicas ?? 1,
  };
}

const isNotFound = (e: unknown) => e instanceof JetStreamApiError && e.status === 404;

/** Creates each stream, or updates it to the spec; safe to run from every replica at start. */
export async function provisionStreams(jsm: JetStreamManager, specs: readonly StreamSpec[], options: ProvisionOptions = {}): Promise<void> {
  for (const spec of specs) {
    const config = streamConfig(spec, options);
    try {
      await jsm.streams.info(spec.name);
      await jsm.streams.update(spec.name, config);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        await jsm.streams.add(config);
      } catch (addError) {
        // Another replica created it between our info and add: that is the goal anyway.
        if (!(addError instanceof JetStreamApiError && addError.code === 10058)) throw addError;
      }
    }
  }
}

/**
 * The delivery limit of work whose request carries a deadline: it is delivered again until the
 * deadline ends the request (which then ends EXPIRED), never given up on a count. Each try costs
 * little, and work nobody can read is dead-lettered at its first delivery. At JetStream's
 * default of 5, one outage of a few seconds (a restarted server, a stream leader elected in
 * 5-10 s) dead-lettered a dispatch, or left a batch undelivered for good, and their requests
 * never ended.
 */
export const MAX_DELIVER_UNTIL_DEADLINE = 100_000;

export interface DurableSpec {
  readonly stream: string;
  readonly durable: string;
  readonly filterSubject?: string;
  /** Deliveries before a message goes to the dead-letter subject. Default 5. */
  readonly maxDeliver?: number;
  /** How long a delivery may go unacked before redelivery. Default 30 s. */
  readonly ackWaitMs?: number;
  /** Unacked messages across all replicas; bounds work in flight. Default 1000. */
  readonly maxAckPending?: number;
  /** Start with messages published after the consumer is created, not the stream's history. Default false. */
  readonly deliverNew?: boolean;
}

/** Creates or updates a durable pull consumer shared by every replica of a service. */
export async function ensureDurable(jsm: JetStreamManager, spec: DurableSpec): Promise<void> {
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: spec.deliverNew ? DeliverPolicy.New : DeliverPolicy.All,
    max_deliver: spec.maxDeliver ?? 5,
    ack_wait: nanos(spec.ackWaitMs ?? 30_000),
    max_ack_pending: spec.maxAckPending ?? 1000,
    ...(spec.filterSubject ? { filter_subject: spec.filterSubject } : {}),
  };
  try {
    await jsm.consumers.info(spec.stream, spec.durable);
    await jsm.consumers.update(spec.stream, spec.durable, config);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await jsm.consumers.add(spec.stream, config);
  }
}

import type { JetStreamClient } from '@switchyard/bus';
import { DomainError, decodeEvent, filters, streams, subjects } from '@switchyard/contracts';
import type { Completion } from './domain/completion-check.js';

/** JetStream's API error code for a stream that does not exist. */
const STREAM_NOT_FOUND = 10059;

export interface ReadCompletionsOptions {
  /** First instant read (the consumer starts here, `opt_start_time`). */
  readonly startMs: number;
  /** Reading stops at the first completion stored at or after this, or at the stream's end. */
  readonly endMs: number;
  /** Only this tenant's completions; default every tenant's. */
  readonly tenant?: string;
  /** Completions handed to `onBatch` at a time. Default 10,000. */
  readonly batchSize?: number;
}

/**
 * Reads the requests completed in [startMs, endMs) from LIFECYCLE, oldest first, and hands
 * them over in batches. It uses an ephemeral ordered consumer, deleted when done, so an
 * operator's check leaves no durable state on the bus and takes nothing from the services'
 * consumers. Resolves with how many completions it read.
 */
export async function readCompletions(js: JetStreamClient, options: ReadCompletionsOptions, onBatch: (batch: Completion[]) => Promise<void>): Promise<number> {
  const batchSize = options.batchSize ?? 10_000;
  const consumer = await js.consumers
    .get(streams.LIFECYCLE.name, {
      filter_subjects: options.tenant ? subjects.requestTerminated('completed', options.tenant) : filters.allOfOutcome('completed'),
      opt_start_time: new Date(options.startMs).toISOString(),
    })
    .catch((e: unknown) => {
      // Not the bus Switchyard runs on (or one it never ran on): nothing to compare is no proof.
      if ((e as { code?: unknown }).code === STREAM_NOT_FOUND)
        throw new DomainError('FAILED_PRECONDITION', `there is no ${streams.LIFECYCLE.name} stream on this NATS server`, { cause: e });
      throw e;
    });
  let read = 0;
  try {
    // What the consumer had to deliver when it was made; nothing at all ends the read here.
    if ((await consumer.info(true)).num_pending === 0) return 0;
    const messages = await consumer.consume({ max_messages: Math.min(batchSize, 1_000) });
    let batch: Completion[] = [];
    for await (const m of messages) {
      const completedMs = Math.floor(m.info.timestampNanos / 1e6);
      if (completedMs >= options.endMs) break;
      const payload = decodeEvent(m.data).payload;
      if (payload?.$case === 'requestTerminated') {
        batch.push({ requestId: payload.requestTerminated.requestId, tenant: payload.requestTerminated.tenant, completedMs });
        read++;
      }
      if (batch.length >= batchSize) {
        await onBatch(batch);
        batch = [];
      }
      if (m.info.pending === 0) break;
    }
    if (batch.length) await onBatch(batch);
    return read;
  } finally {
    await consumer.delete().catch(() => false);
  }
}

import { DeliverPolicy, type JetStreamClient } from '@switchyard/bus';

/** One message as the stream stored it. */
export interface StoredMessage {
  readonly subject: string;
  readonly storedMs: number;
  readonly data: Uint8Array;
}

export interface ReadWindowOptions {
  readonly stream: string;
  /** One subject filter (nats-server 2.9 takes no more); undefined reads every subject. */
  readonly filter?: string;
  readonly sinceMs: number;
  readonly untilMs: number;
  /** Messages asked for per pull: the most held in memory at once. Default 1,000. */
  readonly batch?: number;
}

/**
 * The messages a stream stored in `[since, until]` on `filter`, in stream order, a batch at a
 * time. Read with an ordered consumer: ephemeral, unacknowledged and in memory on the server,
 * deleted when the read ends (and by the server after 5 idle minutes if this process dies),
 * so no durable consumer is created or moved. It starts at `since` by the stream's own
 * timestamps and stops at the first message after `until`, or once nothing is pending (the
 * range's end when `until` is now). Each pull is a `fetch` of at most `batch` messages, so a
 * slow writer slows the reading instead of queueing the range in memory.
 */
export async function* readWindow(js: JetStreamClient, o: ReadWindowOptions): AsyncGenerator<StoredMessage[]> {
  const batch = o.batch ?? 1_000;
  const consumer = await js.consumers.get(o.stream, {
    ...(o.filter ? { filter_subjects: o.filter } : {}),
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(o.sinceMs).toISOString(),
  });
  try {
    if ((await consumer.info(true)).num_pending === 0) return;
    for (;;) {
      const messages = await consumer.fetch({ max_messages: batch, expires: 2_000 });
      const got: StoredMessage[] = [];
      let done = false;
      for await (const m of messages) {
        const storedMs = Math.floor(m.info.timestampNanos / 1e6);
        if (storedMs > o.untilMs) {
          done = true;
          break;
        }
        got.push({ subject: m.subject, storedMs, data: m.data });
        if (m.info.pending === 0) {
          done = true;
          break;
        }
      }
      if (done) messages.stop();
      if (got.length) yield got;
      if (done) return;
      // An empty pull: caught up unless the server says more is pending (messages can be
      // removed by limits while a read goes on).
      if (got.length === 0 && (await consumer.info()).num_pending === 0) return;
    }
  } finally {
    await consumer.delete().catch(() => false);
  }
}

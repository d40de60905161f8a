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
  /**
   * Messages asked for per pull: the most held in memory at once (about 1 MB of USAGE). Default
   * 5,000: each pull is a round trip, and fewer of them kept the server busier on two cores.
   */
  readonly batch?: number;
}

/**
 * Hands `onMessage` the messages a stream stored in `[since, until]` on `filter`, in stream
 * order, awaiting it when it returns a promise. Read with an ordered consumer: ephemeral,
 * unacknowledged and in memory on the server, deleted when the read ends (and by the server
 * after 5 idle minutes if this process dies), so no durable consumer is created or moved. It
 * starts at `since` by the stream's own timestamps and stops at the first message after
 * `until`, or once nothing is pending (the range's end when `until` is now). Each pull is a
 * `fetch` of at most `batch` messages, handled as they arrive: a slow writer slows the reading
 * instead of queueing the range in memory. Resolves with the number of messages handed over.
 */
export async function readWindow(js: JetStreamClient, o: ReadWindowOptions, onMessage: (m: StoredMessage) => void | Promise<void>): Promise<number> {
  const batch = o.batch ?? 5_000;
  const consumer = await js.consumers.get(o.stream, {
    ...(o.filter ? { filter_subjects: o.filter } : {}),
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(o.sinceMs).toISOString(),
  });
  let read = 0;
  try {
    if ((await consumer.info(true)).num_pending === 0) return read;
    for (;;) {
      const messages = await consumer.fetch({ max_messages: batch, expires: 2_000 });
      let got = 0;
      let done = false;
      for await (const m of messages) {
        got++;
        const info = m.info;
        const storedMs = Math.floor(info.timestampNanos / 1e6);
        if (storedMs > o.untilMs) {
          done = true;
          break;
        }
        read++;
        const pending = onMessage({ subject: m.subject, storedMs, data: m.data });
        if (pending) await pending;
        if (info.pending === 0) {
          done = true;
          break;
        }
      }
      if (done) {
        messages.stop();
        return read;
      }
      // An empty pull: caught up unless the server says more is pending (messages can be
      // removed by limits while a read goes on).
      if (got === 0 && (await consumer.info()).num_pending === 0) return read;
    }
  } finally {
    await consumer.delete().catch(() => false);
  }
}

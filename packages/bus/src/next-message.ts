import type { JetStreamManager, MsgRequest, StoredMsg } from '@nats-io/jetstream';

/**
 * The first message `stream` holds on `subject` (wildcards allowed) at or after sequence `from`,
 * or null. One request however many sequences lie between: acked messages leave gaps in a
 * work-queue stream, and reading it sequence by sequence asks once per gap.
 *
 * nats-server 2.9 answers `next_by_subj` on STREAM.MSG.GET; the client's type lists it only for
 * direct gets, which these streams do not allow.
 */
export function nextStoredMessage(jsm: JetStreamManager, stream: string, subject: string, from: number): Promise<StoredMsg | null> {
  return jsm.streams.getMessage(stream, { seq: from, next_by_subj: subject } as unknown as MsgRequest);
}

import { JetStreamApiError, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import { nextStoredMessage } from './next-message.js';

/** Leftovers removed at most per call; the next call takes the rest. */
const REMOVE_AT_ONCE = 256;

/**
 * Removes what a work-queue stream still holds at or below a consumer's ack floor on that
 * consumer's own subject: messages JetStream counts as done but did not remove. Returns how
 * many it removed.
 *
 * nats-server 2.9 leaves such messages behind. The soak found batches acked seconds before a
 * nats-server kill -9 still on BATCHES minutes later, under their consumer's ack floor (#423
 * and #424 under #1199, 0 pending, 0 awaiting ack), in each of three runs; a message that ran
 * out of deliveries stays too, and the floor passes it once later ones are acked. Nothing
 * delivers them again, but they read as queued work, and a consumer made afresh on their
 * subject (a worker that returns after its durable was forgotten) would deliver them and run
 * requests that ended long ago.
 *
 * One message at a time, never a purge: nats-server 2.9 answers a purge touching a consumer's
 * subject by forgetting every delivery that consumer awaits an ack for (`o.pending = nil` in
 * `consumer.purge`), so a message held by a worker killed afterwards was never delivered again.
 * Deleting one message below the floor changes nothing a consumer tracks: it is neither pending
 * nor still to deliver (`decStreamPending` touches only those).
 *
 * Safe by construction: every message at or below the floor is done (the floor only moves on),
 * and a message published after `consumer` was read has a higher sequence than its floor.
 */
export async function removeAckedLeftovers(jsm: JetStreamManager, stream: string, consumer: ConsumerInfo): Promise<number> {
  const subject = consumer.config.filter_subject;
  const floor = consumer.ack_floor.stream_seq;
  // An unfiltered consumer's floor says nothing of subjects other consumers take.
  if (!subject || floor <= 0) return 0;
  let removed = 0;
  let from = 1;
  while (removed < REMOVE_AT_ONCE) {
    const next = await nextStoredMessage(jsm, stream, subject, from);
    if (!next || next.seq > floor) break;
    // Another batcher replica may have removed it meanwhile.
    if (await jsm.streams.deleteMessage(stream, next.seq, false).catch((e: unknown) => (alreadyGone(e) ? false : Promise.reject(e)))) removed++;
    from = next.seq + 1;
  }
  return removed;
}

/**
 * nats-server 2.9 answers the delete of a message no longer there with a 500 "no message found"
 * (or "sequence N not found" where the store reports it so); any other error is a real one.
 */
const alreadyGone = (e: unknown): boolean => e instanceof JetStreamApiError && /no message found|sequence \d+ not found/i.test(e.message);

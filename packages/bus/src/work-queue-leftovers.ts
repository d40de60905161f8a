import type { ConsumerInfo, JetStreamManager } from '@nats-io/jetstream';

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
 * Safe by construction: every message at or below the floor is done (the floor only moves on),
 * and a message published after `consumer` was read has a higher sequence than its floor.
 */
export async function purgeAckedLeftovers(jsm: JetStreamManager, stream: string, consumer: ConsumerInfo): Promise<number> {
  const subject = consumer.config.filter_subject;
  const floor = consumer.ack_floor.stream_seq;
  // An unfiltered consumer's floor says nothing of subjects other consumers take.
  if (!subject || floor <= 0) return 0;
  const { purged } = await jsm.streams.purge(stream, { filter: subject, seq: floor + 1 });
  return purged;
}

import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { subjects } from '@switchyard/contracts';

/**
 * Parks a message on `deadletter.<stream>.<consumer>` with why (headers `Sy-Reason`,
 * `Sy-Subject`, `Sy-Deliveries`), then terminates its delivery. The msgID derives from the
 * stream sequence, so a retry after a crash parks it once.
 */
export async function deadLetter(js: JetStreamClient, stream: string, durable: string, msg: JsMsg, reason: string): Promise<void> {
  const h = natsHeaders();
  h.set('Sy-Reason', reason.slice(0, 512));
  h.set('Sy-Subject', msg.subject);
  h.set('Sy-Deliveries', String(msg.info.deliveryCount));
  await js.publish(subjects.deadLetter(stream, durable), msg.data, { msgID: `dl-${stream}-${durable}-${msg.seq}`, headers: h });
  // No term reason: nats-server 2.9 does not understand "+TERM <reason>"; the headers carry it.
  msg.term();
}

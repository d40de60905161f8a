import { DeliverPolicy, jetstream, type NatsConnection } from '@switchyard/bus';
import { decodeEvent, type Event } from '@switchyard/contracts';

/** Every event on a (limits) stream from its first message, as an analyst's replay would see it. */
export async function readStream(nc: NatsConnection, stream: string): Promise<Array<{ subject: string; event: Event }>> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const total = (await consumer.info()).num_pending;
  const out: Array<{ subject: string; event: Event }> = [];
  if (total === 0) return out;
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push({ subject: m.subject, event: decodeEvent(m.data) });
    if (out.length >= total) break;
  }
  await messages.close();
  return out;
}

/** The Nats-Msg-Id of every message on a (limits) stream: what a publisher's acks can be held against. */
export async function storedMsgIds(nc: NatsConnection, stream: string): Promise<Set<string>> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const total = (await consumer.info()).num_pending;
  const ids = new Set<string>();
  if (total === 0) return ids;
  const messages = await consumer.consume();
  let read = 0;
  for await (const m of messages) {
    ids.add(m.headers?.get('Nats-Msg-Id') ?? '');
    if (++read >= total) break;
  }
  await messages.close();
  return ids;
}

/** Terminal events per request id, from LIFECYCLE. */
export async function terminalsByRequest(nc: NatsConnection): Promise<Map<string, string[]>> {
  const byRequest = new Map<string, string[]>();
  for (const { subject, event } of await readStream(nc, 'LIFECYCLE')) {
    const id = event.envelope?.requestId ?? '';
    byRequest.set(id, [...(byRequest.get(id) ?? []), subject.split('.')[1]!]);
  }
  return byRequest;
}

/** Request ids admitted, from REQUESTS. */
export async function admittedRequests(nc: NatsConnection): Promise<string[]> {
  // REQUESTS also carries workers' asks to re-place a request (requests.replace.>).
  return (await readStream(nc, 'REQUESTS')).filter((m) => m.subject.startsWith('requests.admitted.')).map(({ event }) => event.envelope?.requestId ?? '');
}

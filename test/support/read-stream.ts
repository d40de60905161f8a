import { DeliverPolicy, followOrdered, jetstream, jetstreamManager, nextStoredMessage, type JsMsg, type NatsConnection } from '@switchyard/bus';
import { decodeEvent, type Event } from '@switchyard/contracts';

/** How long a read of a whole stream may take before it fails, saying how far it got. */
const READ_DEADLINE_MS = 30_000;

/**
 * Every message a (limits) stream held when the read began, from its first, mapped by `map`.
 * It reads through the bus's ordered follower, so a pull the server dropped, or the loss of the
 * cluster node its consumer lived on, costs a replacement consumer rather than a hung test.
 */
async function readAll<T>(nc: NatsConnection, stream: string, map: (m: JsMsg) => T): Promise<T[]> {
  const out: T[] = [];
  let total = Infinity;
  let caughtUp!: () => void;
  const done = new Promise<void>((resolve) => (caughtUp = resolve));
  const follower = await followOrdered(jetstream(nc), { stream, deliverPolicy: DeliverPolicy.All, nc }, (m) => {
    out.push(map(m));
    if (out.length >= total) caughtUp();
  });
  total = follower.pendingAtStart;
  if (out.length >= total) caughtUp();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`read ${out.length} of the ${total} messages ${stream} held within ${READ_DEADLINE_MS} ms`)), READ_DEADLINE_MS);
  });
  try {
    await Promise.race([done, deadline]);
  } finally {
    clearTimeout(timer);
    await follower.stop();
  }
  return out.slice(0, total);
}

/** Every event on a (limits) stream from its first message, as an analyst's replay would see it. */
export const readStream = (nc: NatsConnection, stream: string): Promise<Array<{ subject: string; event: Event }>> =>
  readAll(nc, stream, (m) => ({ subject: m.subject, event: decodeEvent(m.data) }));

/** The Nats-Msg-Id of every message on a (limits) stream: what a publisher's acks can be held against. */
export const storedMsgIds = async (nc: NatsConnection, stream: string): Promise<Set<string>> =>
  new Set(await readAll(nc, stream, (m) => m.headers?.get('Nats-Msg-Id') ?? ''));

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

/** One event on a request's path: when its envelope says it happened, and its subject. */
export interface Hop {
  readonly timeUnixMs: number;
  readonly subject: string;
}

/**
 * The events of each of `requestIds` on `streams` (limits streams), in time order: the path a
 * request took (admitted, placed, used, ended), to tell where one stalled or went missing.
 */
export async function trailsOf(nc: NatsConnection, requestIds: Iterable<string>, streams: readonly string[]): Promise<Map<string, Hop[]>> {
  const trails = new Map([...requestIds].map((id) => [id, [] as Hop[]]));
  for (const stream of streams) {
    for (const { subject, event } of await readStream(nc, stream)) {
      trails.get(event.envelope?.requestId ?? '')?.push({ timeUnixMs: Number(event.envelope!.timeUnixMs), subject });
    }
  }
  for (const hops of trails.values()) hops.sort((a, b) => a.timeUnixMs - b.timeUnixMs);
  return trails;
}

/** A trail as wall-clock times and subjects (`08:44:33.138 requests.admitted...`), to set beside printed faults. */
export const wallClockTrail = (hops: readonly Hop[]): string =>
  hops.map((h) => `${new Date(h.timeUnixMs).toISOString().slice(11, 23)} ${h.subject}`).join(', ');

/** A message a work-queue stream still holds (not acked by its consumer). */
export interface HeldMessage {
  readonly seq: number;
  readonly subject: string;
  readonly storedAtMs: number;
  readonly event: Event;
}

/**
 * The first `most` messages a work-queue stream still holds, read one by one over the gaps acked
 * messages left: a consumer would change what it reads (an ordered consumer may not even be
 * made on one).
 */
export async function heldMessages(nc: NatsConnection, stream: string, most = 50): Promise<HeldMessage[]> {
  const jsm = await jetstreamManager(nc);
  const held: HeldMessage[] = [];
  for (let from = 1; held.length < most;) {
    const m = await nextStoredMessage(jsm, stream, '>', from);
    if (!m) break;
    held.push({ seq: m.seq, subject: m.subject, storedAtMs: m.time.getTime(), event: decodeEvent(m.data) });
    from = m.seq + 1;
  }
  return held;
}

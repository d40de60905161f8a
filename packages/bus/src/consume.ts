import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { DomainError, decodeEvent, type Event } from '@switchyard/contracts';
import { dispositionForError, type Disposition } from './domain/disposition.js';
import { deadLetter } from './dead-letter.js';
import { ensureDurable, type DurableSpec } from './provision.js';
import { watchForDroppedPulls } from './pull-watchdog.js';

/**
 * How long one pull waits on the server (the client's default is 30 s). A pull lives on the
 * consumer's leader: when that node dies (kill -9, a lost machine) nothing tells the client,
 * which notices only after two missed idle heartbeats (`PULL_IDLE_HEARTBEAT_MS`). With the
 * default 30 s that stalled every consumer led by the lost node for 30 s on a 3-node cluster;
 * with 5 s a consumer pulls again from the new leader within a few seconds, at the cost of one
 * idle pull per consumer every 5 s.
 */
export const PULL_EXPIRES_MS = 5_000;

/**
 * How often the server says a pull is still waiting (the client's default: half of
 * `expires`). The client pulls again after two go missing, so this bounds how long a consumer
 * sits idle when the server holds no pull for it while the client counts one as open. That
 * happens under bursts on one machine: in CI's streaming-burst test (and in about 1 run in 15
 * with requests held longer in the batcher) the batcher's pull on DISPATCH got no message, no
 * expiry notice and no heartbeat, and every dispatch waited 5-7.5 s (two or three 2.5-s
 * heartbeats); metering's pull on USAGE was seen doing the same. At 1 s the wait is 2-3 s, for
 * one small message a second per consumer while a pull waits. The cause, found later: a pull
 * nats-server 2.9 drops at its expiry without a word (see `watchForDroppedPulls`, which now
 * pulls again within ~250 ms); these heartbeats remain the backstop for a lost server.
 */
export const PULL_IDLE_HEARTBEAT_MS = 1_000;

/** A delivered event with what a handler may need from its delivery. */
export interface Delivery {
  readonly event: Event;
  readonly subject: string;
  /** 1 on first delivery; a worker uses it as the attempt number. */
  readonly deliveryCount: number;
  /** Extends the ack deadline while long work is still going. */
  working(): void;
}

/** Returning nothing acks; a handler may ask for a redelivery or a dead-letter itself. */
export type DeliveryHandler = (delivery: Delivery) => Promise<Disposition | void>;

export interface ConsumeDurableOptions extends DurableSpec {
  readonly js: JetStreamClient;
  readonly handle: DeliveryHandler;
  /** Handlers running at once in this process. Default 1 (in order). */
  readonly concurrency?: number;
  /** Delay before redelivery n (1-based); the last entry repeats. Default 100 ms .. 5 s. */
  readonly backoffMs?: readonly number[];
  /** Called for failures the loop handled itself (dead letters, consumer errors). */
  readonly onError?: (error: unknown, context: string) => void;
  /** How long each pull waits on the server; at least twice `PULL_IDLE_HEARTBEAT_MS`. Default `PULL_EXPIRES_MS`. */
  readonly pullExpiresMs?: number;
}

export interface RunningConsumer {
  /** Stops pulling, waits for handlers in flight, then settles their messages. */
  stop(): Promise<void>;
  /** Resolves when the pull loop has ended. */
  readonly done: Promise<void>;
}

/**
 * Ensures the durable consumer, then runs a pull-consume loop: decode, handle, then ack /
 * nak with backoff / dead-letter.
 * A message that cannot be decoded is dead-lettered, never retried forever.
 */
export async function consumeDurable(options: ConsumeDurableOptions): Promise<RunningConsumer> {
  const { js, stream, durable, handle } = options;
  const concurrency = options.concurrency ?? 1;
  const retry = { maxDeliver: options.maxDeliver ?? 5, backoffMs: options.backoffMs ?? [100, 500, 2_000, 5_000] };
  const onError = options.onError ?? (() => {});
  await ensureDurable(await js.jetstreamManager(), options);
  const consumer = await js.consumers.get(stream, durable);
  const expiresMs = options.pullExpiresMs ?? PULL_EXPIRES_MS;
  const messages: ConsumerMessages = await consumer.consume({
    max_messages: Math.max(concurrency * 2, 8),
    expires: expiresMs,
    idle_heartbeat: PULL_IDLE_HEARTBEAT_MS,
  });
  const inFlight = new Set<Promise<void>>();
  let wake: (() => void) | undefined;
  /** The loop holds a message it has no handler slot for (the client's next pull may wait behind it). */
  let parked = false;
  const watchdog = watchForDroppedPulls({ consumer, messages, expiresMs, busy: () => parked });

  const park = (msg: JsMsg, reason: string) => deadLetter(js, stream, durable, msg, reason);

  const settle = async (msg: JsMsg, disposition: Disposition) => {
    if (disposition.kind === 'ack') msg.ack();
    else if (disposition.kind === 'nak') msg.nak(disposition.delayMs);
    else await park(msg, disposition.reason);
  };

  const process = async (msg: JsMsg) => {
    let disposition: Disposition;
    try {
      let event: Event;
      try {
        event = decodeEvent(msg.data);
      } catch (e) {
        throw new DomainError('INVALID_ARGUMENT', `undecodable event on ${msg.subject}`, { cause: e });
      }
      const delivery: Delivery = {
        event,
        subject: msg.subject,
        deliveryCount: msg.info.deliveryCount,
        working: () => msg.working(),
      };
      disposition = (await handle(delivery)) ?? { kind: 'ack' };
    } catch (e) {
      disposition = dispositionForError(e, msg.info.deliveryCount, retry);
      if (disposition.kind === 'dead-letter') onError(e, `dead-lettered ${msg.subject} from ${stream}/${durable}`);
    }
    try {
      await settle(msg, disposition);
    } catch (e) {
      // The message stays unacked and comes back after ack_wait: nothing is lost.
      onError(e, `could not settle ${msg.subject} from ${stream}/${durable}`);
    }
  };

  const done = (async () => {
    try {
      for await (const msg of messages) {
        while (inFlight.size >= concurrency) {
          parked = true;
          await new Promise<void>((resolve) => (wake = resolve));
        }
        parked = false;
        const task = process(msg).finally(() => {
          inFlight.delete(task);
          wake?.();
        });
        inFlight.add(task);
      }
    } finally {
      watchdog.stop();
    }
  })();

  return {
    done,
    async stop() {
      watchdog.stop();
      await messages.close();
      await Promise.allSettled([...inFlight]);
      await done.catch((e) => onError(e, `consumer ${stream}/${durable} ended with an error`));
    },
  };
}

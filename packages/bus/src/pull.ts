import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { decodeEvent, type Event } from '@switchyard/contracts';
import { deadLetter } from './dead-letter.js';
import { ensureDurable, type DurableSpec } from './provision.js';

/** A message taken with {@link pullDurable}; the taker settles it when its work is done. */
export interface PulledMessage {
  readonly event: Event;
  readonly subject: string;
  /** 1 on first delivery; a worker uses it as the attempt number. */
  readonly deliveryCount: number;
  /** Extends the ack deadline while long work is still going. */
  working(): void;
  ack(): void;
  /** Hands the message back for redelivery after `delayMs` (default at once). */
  nak(delayMs?: number): void;
  /** Moves a message no retry can fix to the dead-letter subject, with `reason` in its headers. */
  deadLetter(reason: string): Promise<void>;
}

export interface PullDurableOptions extends DurableSpec {
  readonly js: JetStreamClient;
  /** Called for messages dead-lettered because they could not be decoded. */
  readonly onError?: (error: unknown, context: string) => void;
}

export interface DurablePuller {
  /**
   * Asks for up to `max` messages and yields each as it arrives; ends once `max` arrived or
   * after `expiresMs` (at least 1,000, the client's minimum; default 5,000). One pull at a time.
   * Undecodable messages are dead-lettered, not yielded.
   */
  pull(max: number, expiresMs?: number): AsyncIterable<PulledMessage>;
  /**
   * Ends the open pull now. A message the server had already sent to it stays unacked until
   * the consumer's ack wait passes, then is redelivered: nothing is lost.
   */
  stop(): void;
}

/**
 * A durable pull consumer where the caller decides when and how much to take: unlike
 * `consumeDurable`, nothing is prefetched, so a worker holds only what it has room for and
 * everything else stays on the stream for its peers.
 */
export async function pullDurable(options: PullDurableOptions): Promise<DurablePuller> {
  const { js, stream, durable } = options;
  await ensureDurable(await js.jetstreamManager(), options);
  let consumer = await js.consumers.get(stream, durable);
  let open: ConsumerMessages | undefined;

  const park = (msg: JsMsg, reason: string) => deadLetter(js, stream, durable, msg, reason);

  async function* take(messages: ConsumerMessages): AsyncGenerator<PulledMessage> {
    open = messages;
    try {
      for await (const msg of messages) {
        let event: Event;
        try {
          event = decodeEvent(msg.data);
        } catch (e) {
          await park(msg, `undecodable event on ${msg.subject}`);
          options.onError?.(e, `dead-lettered ${msg.subject} from ${stream}/${durable}`);
          continue;
        }
        yield {
          event,
          subject: msg.subject,
          deliveryCount: msg.info.deliveryCount,
          working: () => msg.working(),
          ack: () => msg.ack(),
          nak: (delayMs?: number) => msg.nak(delayMs),
          deadLetter: (reason: string) => park(msg, reason),
        };
      }
    } finally {
      if (open === messages) open = undefined;
    }
  }

  return {
    async *pull(max, expiresMs = 5_000) {
      try {
        yield* take(await consumer.fetch({ max_messages: Math.max(1, Math.floor(max)), expires: Math.max(1_000, expiresMs) }));
      } catch (e) {
        // The durable may be gone (deleted by an operator, or swept after a long silence): make
        // it again for the next pull. What it had not delivered is still on the stream.
        await ensureDurable(await js.jetstreamManager(), options).catch(() => {});
        consumer = await js.consumers.get(stream, durable).catch(() => consumer);
        throw e;
      }
    },
    stop() {
      open?.stop();
    },
  };
}

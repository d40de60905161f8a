import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decodeEvent, type Event } from '@switchyard/contracts';

export interface FollowOptions {
  /** Replicas in one queue group share the events (each event reaches one of them). */
  readonly queue?: string;
  /** Called with events that could not be decoded; they are skipped. */
  readonly onUndecodable?: (error: unknown, subject: string) => void;
}

/**
 * Follows events as they are published, over a plain subscription: no consumer, no acks,
 * nothing replayed. For in-memory views and counters that start from "now" anyway (load
 * tracking, service metrics), where a JetStream delivery and its ack per event would only
 * cost CPU; the events themselves are still stored by their streams for replay.
 */
export function followEvents(nc: NatsConnection, subject: string, onEvent: (event: Event) => void, options: FollowOptions = {}): Subscription {
  return nc.subscribe(subject, {
    queue: options.queue,
    callback: (error, msg) => {
      if (error) return;
      let event: Event;
      try {
        event = decodeEvent(msg.data);
      } catch (e) {
        options.onUndecodable?.(e, msg.subject);
        return;
      }
      onEvent(event);
    },
  });
}

import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeEvent, type Event } from '@switchyard/contracts';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PublishOptions {
  /** Attempts before giving up; each retry reuses the msgID, so none duplicates. Default 5. */
  readonly attempts?: number;
  /** Delay before the first retry, doubled each time. Default 100 ms. */
  readonly retryDelayMs?: number;
}

/**
 * Publishes an event with its envelope id as Nats-Msg-Id and waits for the stream's ack.
 * Retries ride out a leader election or reconnect; the server drops the duplicates.
 */
export async function publishEvent(js: JetStreamClient, subject: string, event: Event, options: PublishOptions = {}): Promise<PubAck> {
  const id = event.envelope?.id;
  if (!id) throw new Error(`event for ${subject} has no envelope id; it could not be de-duplicated`);
  const data = encodeEvent(event);
  const attempts = options.attempts ?? 5;
  let delay = options.retryDelayMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await js.publish(subject, data, { msgID: id });
    } catch (e) {
      if (attempt >= attempts) {
        throw new Error(`publish to ${subject} failed after ${attempts} attempts`, { cause: e });
      }
      await sleep(delay);
      delay *= 2;
    }
  }
}

/**
 * Publishes telemetry (decision events) into its stream without waiting for an ack: the
 * server stores it as any other message, but no reply travels back and nothing is
 * retried. For facts whose loss in a bus outage costs an explanation, never a request or
 * money; everything else goes through {@link publishEvent}.
 */
export function emitEvent(nc: NatsConnection, subject: string, event: Event): void {
  nc.publish(subject, encodeEvent(event));
}

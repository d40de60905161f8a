import { Event, type BatchFormed, type Candidate } from './gen/switchyard/v1/events.js';

/** The payload kinds an Event can carry, e.g. `requestAdmitted`. */
export type EventPayload = NonNullable<Event['payload']>;
export type EventType = EventPayload['$case'];

/** What the caller of `makeEvent` supplies; the rest of the envelope is derived. */
export interface EventMeta {
  /** Unique per fact; becomes the Nats-Msg-Id, so a retried publish is de-duplicated. */
  readonly id: string;
  readonly tenant: string;
  readonly requestId: string;
  readonly nowMs: number;
  readonly traceparent?: string;
}

/** Current schema version of every event type. */
export const EVENT_VERSION = 1;

/** Wraps a payload in the envelope every fact carries. */
export function makeEvent(meta: EventMeta, payload: EventPayload): Event {
  return {
    envelope: {
      id: meta.id,
      type: payload.$case,
      version: EVENT_VERSION,
      timeUnixMs: meta.nowMs,
      tenant: meta.tenant,
      requestId: meta.requestId,
      traceparent: meta.traceparent ?? '',
    },
    payload,
  };
}

/** A decision's candidate; the prefix-cache fields are the scheduler's and empty elsewhere. */
export const candidate = (c: Pick<Candidate, 'id' | 'score' | 'reason'> & Partial<Candidate>): Candidate => ({
  prefixWorker: '',
  prefixHitBlocks: 0,
  prefixHitTokens: 0,
  ...c,
});

/** A batch for the whole pool unless `worker` names one; never moved unless `earlierDeliveries` says so. */
export const batchFormed = (b: Pick<BatchFormed, 'batchId' | 'pool' | 'requests'> & Partial<BatchFormed>): BatchFormed => ({
  worker: '',
  earlierDeliveries: 0,
  ...b,
});

export const encodeEvent = (event: Event): Uint8Array => Event.encode(event).finish();
export const decodeEvent = (data: Uint8Array): Event => Event.decode(data);

/** Narrows an event to one payload kind, or throws naming what arrived instead. */
export function expectPayload<T extends EventType>(event: Event, type: T): Extract<EventPayload, { $case: T }> {
  const payload = event.payload;
  if (payload?.$case !== type) {
    throw new Error(`expected a ${type} event, got ${payload?.$case ?? 'an empty event'}`);
  }
  return payload as Extract<EventPayload, { $case: T }>;
}

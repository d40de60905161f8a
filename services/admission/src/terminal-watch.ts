import { DeliverPolicy, followOrdered, PULL_EXPIRES_MS, type JetStreamClient, type NatsConnection } from '@switchyard/bus';
import { decodeEvent, streams, type RequestTerminated } from '@switchyard/contracts';

export interface TerminalWatch {
  /** Resolves with the request's terminal event; register before publishing the request. */
  expect(requestId: string): { promise: Promise<RequestTerminated>; cancel(): void };
  stop(): Promise<void>;
}

/**
 * Follows LIFECYCLE with an ordered consumer from "now" (replaced when its node is lost) and hands each terminal event to
 * the call waiting for it in this process. The outcome comes from here, never from the
 * token stream, so a cut stream cannot look like a success.
 */
export async function watchTerminals(js: JetStreamClient, nc: NatsConnection, onError: (e: unknown) => void): Promise<TerminalWatch> {
  const waiters = new Map<string, (t: RequestTerminated) => void>();
  const follower = await followOrdered(js, { stream: streams.LIFECYCLE.name, deliverPolicy: DeliverPolicy.New, nc, expiresMs: PULL_EXPIRES_MS }, (msg) => {
    try {
      const payload = decodeEvent(msg.data).payload;
      if (payload?.$case !== 'requestTerminated') return;
      const t = payload.requestTerminated;
      const waiter = waiters.get(t.requestId);
      if (waiter) {
        waiters.delete(t.requestId);
        waiter(t);
      }
    } catch (e) {
      onError(e);
    }
  });
  return {
    expect(requestId) {
      let cancel = () => {};
      const promise = new Promise<RequestTerminated>((resolve) => {
        waiters.set(requestId, resolve);
        cancel = () => waiters.delete(requestId);
      });
      return { promise, cancel };
    },
    stop: () => follower.stop(),
  };
}

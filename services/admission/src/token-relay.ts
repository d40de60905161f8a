import type { NatsConnection, Subscription } from '@switchyard/bus';
import { TokenChunk, TokenChunks, subjects } from '@switchyard/contracts';

export interface TokenRelay {
  /** Chunks handed on so far. */
  readonly delivered: number;
  /** Resolves true once `count` chunks were handed on, false if `graceMs` passed first. */
  waitForChunks(count: number, graceMs: number): Promise<boolean>;
  close(): void;
}

export interface TokenRelayHub {
  /** The inbox subject workers send this request's chunks to, one message each. */
  inbox(requestId: string): string;
  /** Where workers send a step's chunks for every request of this process, as one `TokenChunks`. */
  readonly relayInbox: string;
  /** Starts relaying one request's chunks; close the relay when the request is over. */
  open(requestId: string, onChunk: (text: string, seq: number) => void): TokenRelay;
  stop(): void;
}

/**
 * Two subscriptions for every request this process relays, instead of a SUB and an UNSUB per
 * request: batched chunks (`relayInbox`) and single ones (per-request inboxes, for workers
 * that do not batch), routed to their request by id.
 */
export function createTokenRelayHub(nc: NatsConnection, relayId: string): TokenRelayHub {
  const open = new Map<string, (chunk: TokenChunk) => void>();
  const route = (chunk: TokenChunk) => open.get(chunk.requestId)?.(chunk);
  const single: Subscription = nc.subscribe(subjects.relayInboxes(relayId), {
    callback: (error, msg) => {
      if (!error) route(TokenChunk.decode(msg.data));
    },
  });
  const batched: Subscription = nc.subscribe(subjects.relayChunks(relayId), {
    callback: (error, msg) => {
      if (!error) TokenChunks.decode(msg.data).chunks.forEach(route);
    },
  });
  return {
    inbox: (requestId) => subjects.tokenInbox(requestId, relayId),
    relayInbox: subjects.relayChunks(relayId),
    open(requestId, onChunk) {
      const relay = relayTokens(onChunk, () => open.delete(requestId));
      open.set(requestId, (chunk) => relay.accept(chunk));
      return relay;
    },
    stop: () => {
      single.unsubscribe();
      batched.unsubscribe();
    },
  };
}

/**
 * Relays a request's token chunks in order. Chunks are numbered per stream, and a retried
 * attempt regenerates the same text from the same seed, so anything below the next
 * expected number is a repeat and is dropped; chunks that arrive early wait their turn.
 */
function relayTokens(onChunk: (text: string, seq: number) => void, onClose: () => void): TokenRelay & { accept(chunk: TokenChunk): void } {
  let next = 0;
  const early = new Map<number, string>();
  let notify: (() => void) | undefined;
  return {
    accept(chunk) {
      if (chunk.seq < next) return;
      early.set(chunk.seq, chunk.text);
      for (let text = early.get(next); text !== undefined; text = early.get(next)) {
        early.delete(next);
        onChunk(text, next);
        next++;
      }
      notify?.();
    },
    get delivered() {
      return next;
    },
    async waitForChunks(count, graceMs) {
      const deadline = Date.now() + graceMs;
      while (next < count) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          notify = () => (clearTimeout(timer), resolve());
        });
      }
      return true;
    },
    close: onClose,
  };
}

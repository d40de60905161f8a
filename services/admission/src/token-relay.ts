import type { NatsConnection, Subscription } from '@switchyard/bus';
import { TokenChunk } from '@switchyard/contracts';

export interface TokenRelay {
  /** Chunks handed on so far. */
  readonly delivered: number;
  /** Resolves true once `count` chunks were handed on, false if `graceMs` passed first. */
  waitForChunks(count: number, graceMs: number): Promise<boolean>;
  close(): void;
}

/**
 * Relays a request's token chunks in order. Chunks are numbered per stream, and a retried
 * attempt regenerates the same text from the same seed, so anything below the next
 * expected number is a repeat and is dropped; chunks that arrive early wait their turn.
 */
export function relayTokens(nc: NatsConnection, inbox: string, onChunk: (text: string, seq: number) => void): TokenRelay {
  let next = 0;
  const early = new Map<number, string>();
  let notify: (() => void) | undefined;
  const sub: Subscription = nc.subscribe(inbox, {
    callback: (error, msg) => {
      if (error) return;
      const chunk = TokenChunk.decode(msg.data);
      if (chunk.seq < next) return;
      early.set(chunk.seq, chunk.text);
      for (let text = early.get(next); text !== undefined; text = early.get(next)) {
        early.delete(next);
        onChunk(text, next);
        next++;
      }
      notify?.();
    },
  });
  return {
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
    close: () => sub.unsubscribe(),
  };
}

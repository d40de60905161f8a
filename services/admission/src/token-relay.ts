import type { NatsConnection, Subscription } from '@switchyard/bus';
import { TokenChunk, TokenChunks, subjects } from '@switchyard/contracts';
import { createChunkSequencer, type ChunkSink } from './chunk-sequencer.js';

export interface TokenRelay {
  /** Worker chunks handed on so far (in order; several may go to the caller as one). */
  readonly delivered: number;
  /** Resolves true once `count` worker chunks were handed on, false if `graceMs` passed first. */
  waitForChunks(count: number, graceMs: number): Promise<boolean>;
  close(): void;
}

export interface TokenRelayHub {
  /** The inbox subject workers send this request's chunks to, one message each. */
  inbox(requestId: string): string;
  /** Where workers send a step's chunks for every request of this process, as one `TokenChunks`. */
  readonly relayInbox: string;
  /** Starts relaying one request's chunks; close the relay when the request is over. */
  open(requestId: string, onChunk: ChunkSink): TokenRelay;
  stop(): void;
}

/**
 * Two subscriptions for every request this process relays, instead of a SUB and an UNSUB per
 * request: batched chunks (`relayInbox`) and single ones (per-request inboxes, for workers
 * that do not batch), routed to their request by id.
 */
export function createTokenRelayHub(nc: NatsConnection, relayId: string): TokenRelayHub {
  const open = new Map<string, (chunks: readonly TokenChunk[]) => void>();
  const single: Subscription = nc.subscribe(subjects.relayInboxes(relayId), {
    callback: (error, msg) => {
      if (error) return;
      const chunk = TokenChunk.decode(msg.data);
      open.get(chunk.requestId)?.([chunk]);
    },
  });
  const batched: Subscription = nc.subscribe(subjects.relayChunks(relayId), {
    callback: (error, msg) => {
      if (error) return;
      const byRequest = new Map<string, TokenChunk[]>();
      for (const chunk of TokenChunks.decode(msg.data).chunks) {
        const chunks = byRequest.get(chunk.requestId);
        if (chunks) chunks.push(chunk);
        else byRequest.set(chunk.requestId, [chunk]);
      }
      for (const [requestId, chunks] of byRequest) open.get(requestId)?.(chunks);
    },
  });
  return {
    inbox: (requestId) => subjects.tokenInbox(requestId, relayId),
    relayInbox: subjects.relayChunks(relayId),
    open(requestId, onChunk) {
      const relay = relayTokens(onChunk, () => open.delete(requestId));
      open.set(requestId, (chunks) => relay.accept(chunks));
      return relay;
    },
    stop: () => {
      single.unsubscribe();
      batched.unsubscribe();
    },
  };
}

/** Orders a request's chunks and tells a waiter when `count` of them were handed on. */
function relayTokens(sink: ChunkSink, onClose: () => void): TokenRelay & { accept(chunks: readonly TokenChunk[]): void } {
  const sequencer = createChunkSequencer(sink);
  let notify: (() => void) | undefined;
  return {
    accept(chunks) {
      sequencer.accept(chunks);
      notify?.();
    },
    get delivered() {
      return sequencer.received;
    },
    async waitForChunks(count, graceMs) {
      const deadline = Date.now() + graceMs;
      while (sequencer.received < count) {
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

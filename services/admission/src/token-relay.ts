import type { NatsConnection, Subscription } from '@switchyard/bus';
import { DomainError, TokenChunk, TokenChunks, subjects } from '@switchyard/contracts';
import { createChunkSequencer, type ChunkSink } from './domain/chunk-sequencer.js';

export interface TokenRelay {
  /** Worker chunks handed on so far (in order; several may go to the caller as one). */
  readonly delivered: number;
  /** Resolves true once `count` worker chunks were handed on, false if `graceMs` passed first. */
  waitForChunks(count: number, graceMs: number): Promise<boolean>;
  /** Rejects if handing a chunk on to the caller threw; never resolves. */
  readonly failed: Promise<never>;
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
export function createTokenRelayHub(nc: NatsConnection, relayId: string, onError: (e: unknown) => void = () => {}): TokenRelayHub {
  const open = new Map<string, (chunks: readonly TokenChunk[]) => void>();
  /**
   * An exception thrown in a subscription callback reaches the NATS client and takes the
   * process's connection down with it: nothing a message or a caller does may escape here.
   */
  const guarded = (handle: (data: Uint8Array) => void) => (error: Error | null, msg: { data: Uint8Array }) => {
    if (error) return;
    try {
      handle(msg.data);
    } catch (e) {
      onError(e);
    }
  };
  const single: Subscription = nc.subscribe(subjects.relayInboxes(relayId), {
    callback: guarded((data) => {
      const chunk = TokenChunk.decode(data);
      open.get(chunk.requestId)?.([chunk]);
    }),
  });
  const batched: Subscription = nc.subscribe(subjects.relayChunks(relayId), {
    callback: guarded((data) => {
      const byRequest = new Map<string, TokenChunk[]>();
      for (const chunk of TokenChunks.decode(data).chunks) {
        const chunks = byRequest.get(chunk.requestId);
        if (chunks) chunks.push(chunk);
        else byRequest.set(chunk.requestId, [chunk]);
      }
      for (const [requestId, chunks] of byRequest) open.get(requestId)?.(chunks);
    }),
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

/**
 * Orders a request's chunks and tells a waiter when `count` of them were handed on. A sink
 * that throws (a caller's writer) fails this request alone, through `failed`.
 */
function relayTokens(sink: ChunkSink, onClose: () => void): TokenRelay & { accept(chunks: readonly TokenChunk[]): void } {
  const sequencer = createChunkSequencer(sink);
  let notify: (() => void) | undefined;
  let fail!: (e: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {});
  let broken = false;
  return {
    failed,
    accept(chunks) {
      if (broken) return;
      try {
        sequencer.accept(chunks);
      } catch (e) {
        broken = true;
        fail(new DomainError('INTERNAL', 'could not hand the token stream on to the caller', { cause: e }));
        return;
      }
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

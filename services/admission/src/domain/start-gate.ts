import type { ChunkSink } from './chunk-sequencer.js';

export interface StartGate {
  /** Feed for the token relay: chunks pass straight on once the call has started, wait until then. */
  readonly onChunk: ChunkSink;
  /** The caller has its `started` message: hand on what waited, in order, then pass chunks through. */
  open(): void;
}

/**
 * Holds a request's first chunks until the caller was told it started. A worker's first token
 * can outrun admission's own bookkeeping (the request record is written while the request is
 * already on its way), and a caller must never see a chunk before `started`: the SSE writer
 * needs the request id for every chunk, and gRPC clients key their stream on it.
 */
export function createStartGate(forward: ChunkSink): StartGate {
  let held: [string, number][] | undefined = [];
  return {
    onChunk(text, seq) {
      if (held) held.push([text, seq]);
      else forward(text, seq);
    },
    open() {
      const waiting = held ?? [];
      held = undefined;
      for (const [text, seq] of waiting) forward(text, seq);
    },
  };
}

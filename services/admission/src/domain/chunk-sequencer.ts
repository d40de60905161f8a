import type { TokenChunk } from '@switchyard/contracts';

/** Hands on a request's text in order, as the caller's stream of chunks numbered from 0. */
export type ChunkSink = (text: string, seq: number) => void;

export interface ChunkSequencer {
  /**
   * Takes chunks of one request that arrived together (from one worker message). What is in
   * order goes on as one piece of text: the caller gets the same text in fewer messages, and
   * a chunk is never held back waiting for company.
   */
  accept(chunks: readonly TokenChunk[]): void;
  /** Worker chunks handed on so far (the terminal event's `chunkCount` counts these). */
  readonly received: number;
}

/**
 * Puts a request's token chunks in order. Chunks are numbered per stream, and a retried
 * attempt regenerates the same text from the same seed, so anything below the next expected
 * number is a repeat and is dropped; chunks that arrive early wait their turn.
 */
export function createChunkSequencer(sink: ChunkSink): ChunkSequencer {
  let next = 0;
  let sent = 0;
  const early = new Map<number, string>();
  return {
    accept(chunks) {
      let text = '';
      for (const chunk of chunks) {
        if (chunk.seq < next) continue;
        early.set(chunk.seq, chunk.text);
        for (let t = early.get(next); t !== undefined; t = early.get(next)) {
          early.delete(next);
          text += t;
          next++;
        }
      }
      if (text) sink(text, sent++);
    },
    get received() {
      return next;
    },
  };
}

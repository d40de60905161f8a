import { constants, type Http2Stream } from 'node:http2';
import type { ServerWritableStream } from '@grpc/grpc-js';

/** How long a server stream may hold output its caller does not take before it is reset. Default of {@link GrpcEdgeOptions.stalledStreamMs}. */
export const DEFAULT_STALLED_STREAM_MS = 30_000;

export interface StalledStreamWatch {
  /** Writes one message; output that has to wait for the caller starts the clock. */
  write(message: unknown): void;
  /** The handler is done: the call's last messages and status must now reach the caller in time. */
  ended(): void;
}

/**
 * Resets the call's HTTP/2 stream, so that what it buffered is freed and the caller sees the
 * call end. grpc-js gives a server no way to do this: its status waits behind the messages the
 * caller does not read, its own deadline included, for as long as the connection lives. So
 * this reaches for the stream grpc-js 1.14 keeps on the call (the edge's test pins it); where
 * it is not found, the buffered messages are still dropped.
 */
function resetStream(call: ServerWritableStream<unknown, unknown>): void {
  const stream = (call as unknown as { call?: { stream?: Http2Stream } }).call?.stream;
  if (stream && typeof stream.close === 'function' && !stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  call.destroy();
}

/**
 * Bounds what a server stream buffers for a caller that stopped reading (a slow reader, or
 * one that never reads). HTTP/2 flow control stops the bytes on the wire once the caller's
 * window is full, but every message written after that waits in this process, and without a
 * deadline it waits for as long as the connection lives. Once output waits, the caller must
 * take some of it every `stalledMs`, and once the handler ended, its last messages and status
 * must go out with the same pace; else the stream is reset, its buffer freed, and `onStall`
 * runs (the edge aborts the handler, so the work behind it is cancelled). A caller that reads,
 * however slowly, is never cut: only `stalledMs` without any progress counts.
 */
export function watchStalledStream(call: ServerWritableStream<unknown, unknown>, stalledMs: number, onStall: () => void): StalledStreamWatch {
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  let written = 0;
  /** Messages handed on to HTTP/2 so far: what the caller's reading let through. */
  const sent = () => written - call.writableLength;
  let sentAtArm = 0;
  const disarm = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  const check = () => {
    timer = undefined;
    if (done) return;
    if (sent() > sentAtArm) return arm();
    done = true;
    onStall();
    resetStream(call);
  };
  function arm() {
    if (done || timer) return;
    sentAtArm = sent();
    timer = setTimeout(check, stalledMs);
    timer.unref();
  }
  let ended = false;
  call.on('drain', () => ended || disarm());
  // grpc-js reports 'cancelled' once the stream is gone: the status went out, or the caller left.
  call.on('cancelled', () => ((done = true), disarm()));
  return {
    write: (message) => {
      if (done) return;
      written++;
      if (!call.write(message)) arm();
    },
    ended: () => {
      ended = true;
      arm();
    },
  };
}

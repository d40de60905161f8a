import type { Metadata, ServerUnaryCall, ServerWritableStream, handleServerStreamingCall, handleUnaryCall } from '@grpc/grpc-js';
import { DomainError, isDomainError } from '@switchyard/contracts';
import { checksDecoding, undecodableMessage, undecodableReason } from './decoding.js';
import { deadlineOf } from './metadata.js';
import { DEFAULT_STALLED_STREAM_MS, watchStalledStream } from './stalled-stream.js';
import { toGrpcError } from './status.js';

/** What the edge logs with: a pino logger fits. */
export interface EdgeLogger {
  error(details: object, message: string): void;
  /** Streams reset because their caller stopped reading; none logs them. */
  warn?(details: object, message: string): void;
}

export interface GrpcEdgeOptions<P> {
  /** Logs each failure that is not a `DomainError`, once, with the method it happened in. */
  readonly logger: EdgeLogger;
  /**
   * Who is calling, read from the call's metadata before the handler runs; throw a
   * `DomainError` (UNAUTHENTICATED, PERMISSION_DENIED) to refuse the call.
   */
  readonly authenticate: (metadata: Metadata) => P;
  /**
   * How long a server stream's output may wait for a caller that does not read it (or its
   * status wait, once the handler ended) before the stream is reset and the handler aborted:
   * what one stalled call holds is bounded in time, not only by the HTTP/2 window. Default
   * {@link DEFAULT_STALLED_STREAM_MS} (30 s).
   */
  readonly stalledStreamMs?: number;
}

/** What a handler knows of its call besides the request. */
export interface CallContext<P> {
  readonly principal: P;
  readonly metadata: Metadata;
  /** Aborted when the caller cancels or its deadline passes, while the call is still open. */
  readonly signal: AbortSignal;
  /** The caller's deadline in Unix ms; 0 when it set none. */
  readonly deadlineUnixMs: number;
  /** Sends the response's header metadata now; only before the first message or the status. */
  readonly sendHeaders: (headers: Metadata) => void;
}

export type UnaryHandler<P, Req, Res> = (request: Req, context: CallContext<P>) => Promise<Res> | Res;
export type ServerStreamHandler<P, Req, Res> = (request: Req, context: CallContext<P>, write: (message: Res) => void) => Promise<void>;

export interface GrpcEdge<P> {
  /** A unary handler: its result is the response, anything it throws the status. */
  unary<Req, Res>(handler: UnaryHandler<P, Req, Res>): handleUnaryCall<Req, Res>;
  /** A server-streaming handler: it writes messages; the call ends when it resolves, or with the status of what it threw. */
  serverStream<Req, Res>(handler: ServerStreamHandler<P, Req, Res>): handleServerStreamingCall<Req, Res>;
}

/**
 * Whether the caller already cancelled the call before it was handled. grpc-js starts a
 * handler before it reports a reset that arrived in the same read as the request (a client
 * that opens streams and at once resets them: the "rapid reset" attack); the reset is known
 * one turn later. Such a call is not handled at all, so thousands of them cost no key check,
 * no policy call, no admission.
 */
async function cancelledBeforeHandled(call: { readonly cancelled: boolean }): Promise<boolean> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return call.cancelled;
}

/** Flags a handler as one that answers undecodable requests itself, after the key (see `rejectUndecodable`). */
const checkingDecoding = <H extends object>(handler: H): H => Object.assign(handler, { [checksDecoding]: true });

/**
 * The one place where a gRPC call meets the domain: authenticate -> handler -> response,
 * with `DomainError`s mapped to their status (the message is for the caller) and any other
 * error logged once and answered INTERNAL without internals.
 */
export function createGrpcEdge<P>(options: GrpcEdgeOptions<P>): GrpcEdge<P> {
  const fail = (error: unknown, call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>) => {
    if (!isDomainError(error)) options.logger.error({ err: error, method: call.getPath() }, 'gRPC call failed');
    return toGrpcError(error);
  };

  /** Starts the call's context; `end()` marks it answered, after which a cancel aborts nothing. */
  const open = <Req>(call: ServerUnaryCall<Req, unknown> | ServerWritableStream<Req, unknown>, abort = new AbortController()) => {
    // grpc-js also emits 'cancelled' when a finished call is torn down; aborting then would
    // only build a DOMException per call.
    let ended = false;
    call.on('cancelled', () => ended || abort.abort());
    // The key first: a caller without one learns nothing about what a request should hold.
    const principal = options.authenticate(call.metadata);
    const reason = undecodableReason(call.request);
    if (reason !== undefined) throw new DomainError('INVALID_ARGUMENT', undecodableMessage(call.getPath(), reason));
    const context: CallContext<P> = {
      principal,
      metadata: call.metadata,
      signal: abort.signal,
      deadlineUnixMs: deadlineOf(call),
      sendHeaders: (headers) => call.sendMetadata(headers),
    };
    return { context, end: () => void (ended = true) };
  };

  return {
    unary: (handler) =>
      checkingDecoding((call, callback) => {
        void (async () => {
          if (await cancelledBeforeHandled(call)) return;
          const { context, end } = open(call);
          const response = await handler(call.request, context);
          end();
          callback(null, response);
        })().catch((e: unknown) => callback(fail(e, call)));
      }),

    serverStream: (handler) =>
      checkingDecoding((call) => {
        void (async () => {
          if (await cancelledBeforeHandled(call)) return;
          const abort = new AbortController();
          const stalledMs = options.stalledStreamMs ?? DEFAULT_STALLED_STREAM_MS;
          const output = watchStalledStream(call, stalledMs, () => {
            options.logger.warn?.({ method: call.getPath(), peer: call.getPeer(), stalledMs }, 'caller stopped reading its stream; stream reset');
            abort.abort();
          });
          let end = () => {};
          try {
            const opened = open(call, abort);
            end = opened.end;
            await handler(call.request, opened.context, (message) => output.write(message));
            end();
            call.end();
          } catch (e) {
            // The caller went away: there is nobody to tell.
            if (abort.signal.aborted) return;
            end();
            call.emit('error', fail(e, call));
          }
          output.ended();
        })();
      }),
  };
}

import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { capStatusMessage } from './status.js';

/** What this file reads of a generated method definition. */
interface MethodShape {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly requestDeserialize: (bytes: Buffer) => unknown;
}

type Methods = Readonly<Record<string, MethodShape>>;

const undecodable = Symbol('undecodable request');

/** What a guarded deserializer hands on instead of throwing: why the bytes did not decode. */
interface Undecodable {
  readonly [undecodable]: string;
}

/** The decoder's words, with what to change where it names only a number type. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /MAX_SAFE_INTEGER/.test(message) ? `${message}: 64-bit integer fields (such as seed) must be between 0 and 2^53-1 (9007199254740991)` : message;
}

/**
 * A service definition whose unary-request methods never throw while decoding. grpc-js 1.14
 * answers INTERNAL ("Error deserializing request") whenever a deserializer throws, whatever
 * the error says, so garbage from a client looked like a server fault. A guarded
 * deserializer hands the handler a marker instead; `rejectUndecodable` over the handlers
 * turns it into INVALID_ARGUMENT. Use the two together. Streaming-request methods are left
 * as they are.
 */
export function guardDecoding<D extends Methods>(definition: D): D {
  const guarded = Object.entries(definition).map(([name, method]) => {
    if (method.requestStream) return [name, method];
    const requestDeserialize = (bytes: Buffer): unknown => {
      try {
        return method.requestDeserialize(bytes);
      } catch (e) {
        return { [undecodable]: reasonOf(e) } satisfies Undecodable;
      }
    };
    return [name, { ...method, requestDeserialize }];
  });
  return Object.fromEntries(guarded) as D;
}

/** What a caller is told about a request that did not decode. */
export const undecodableMessage = (path: string, reason: string): string => capStatusMessage(`the request is not a valid message for ${path}: ${reason}`);

/** Why a guarded deserializer could not decode `request`; undefined when it decoded. */
export function undecodableReason(request: unknown): string | undefined {
  return typeof request === 'object' && request !== null ? (request as Partial<Undecodable>)[undecodable] : undefined;
}

/**
 * Marks a handler that answers an undecodable request itself (the edge does, once it has
 * checked the caller's key): `rejectUndecodable` hands it such requests as they are.
 */
export const checksDecoding = Symbol('checks decoding');

type AnyHandler = (call: { request?: unknown; emit(event: 'error', error: unknown): unknown }, callback?: (error: Partial<ServiceError>) => void) => void;

/**
 * Wraps the handlers of a `guardDecoding` service: a call whose request did not decode ends
 * with INVALID_ARGUMENT before the handler sees it; every other call goes to the handler.
 */
export function rejectUndecodable<H extends object>(definition: Methods, handlers: H): H {
  const wrapped = Object.entries(handlers as Record<string, AnyHandler>).map(([name, handler]): [string, AnyHandler] => [
    name,
    (call, callback) => {
      const reason = undecodableReason(call.request);
      if (reason === undefined || checksDecoding in handler) return handler(call, callback);
      const error: Partial<ServiceError> = {
        code: status.INVALID_ARGUMENT,
        details: undecodableMessage(definition[name]?.path ?? name, reason),
        metadata: new Metadata(),
      };
      if (definition[name]?.responseStream) call.emit('error', error);
      else callback?.(error);
    },
  ]);
  return Object.fromEntries(wrapped) as H;
}

import { Client, credentials, Metadata } from '@grpc/grpc-js';

/** What one method of a generated service definition says about itself. */
export interface RawMethod {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

/** How a call ended: its status code and message, and the response bytes of a unary success. */
export interface RawAnswer {
  readonly code: number;
  readonly details: string;
  readonly bytes?: Buffer;
}

/** Every method of a generated service definition (`AdmissionServiceService`, ...). */
export const methodsOf = (definition: Record<string, RawMethod>): RawMethod[] => Object.values(definition);

const identity = (b: Buffer) => b;

/**
 * Calls `method` with hand-made request bytes, as a broken or hostile client would send them,
 * and resolves with how the call ended: never rejects, so a test counts every outcome.
 */
export function rawCall(client: Client, method: RawMethod, bytes: Buffer, metadata = new Metadata(), timeoutMs = 10_000): Promise<RawAnswer> {
  const options = { deadline: Date.now() + timeoutMs };
  if (!method.responseStream) {
    return new Promise((resolve) =>
      client.makeUnaryRequest(method.path, identity, identity, bytes, metadata, options, (e, r) =>
        resolve(e ? { code: e.code, details: e.details } : { code: 0, details: '', bytes: r }),
      ),
    );
  }
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(method.path, identity, identity, bytes, metadata, options);
    call.on('data', () => {});
    call.on('error', () => {});
    call.on('status', (s: { code: number; details: string }) => resolve({ code: s.code, details: s.details }));
  });
}

/** A client that sends raw bytes to the server at `address`. */
export const rawClient = (address: string) => new Client(address, credentials.createInsecure());

/** Metadata with one `authorization` value. */
export function authorization(value: string): Metadata {
  const m = new Metadata();
  m.set('authorization', value);
  return m;
}

/** Runs `task(i)` for i in [0, count) with at most `limit` running at once. */
export async function bounded<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return out;
}

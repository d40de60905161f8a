import { Client, credentials, Metadata } from '@grpc/grpc-js';

/** What one method of a generated service definition says about itself. */
export interface RawMethod {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

/** How a call ended: its status code and message, and every response message it got, as bytes. */
export interface RawAnswer {
  readonly code: number;
  readonly details: string;
  readonly messages: Buffer[];
}

/** A method's request with `fields` set and every other field at its default. */
export const requestOf = (method: { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): unknown }, fields: object = {}): Buffer =>
  method.requestSerialize({ ...(method.requestDeserialize(Buffer.alloc(0)) as object), ...fields });

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
        resolve(e ? { code: e.code, details: e.details, messages: [] } : { code: 0, details: '', messages: [r!] }),
      ),
    );
  }
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(method.path, identity, identity, bytes, metadata, options);
    const messages: Buffer[] = [];
    call.on('data', (m: Buffer) => messages.push(m));
    call.on('error', () => {});
    call.on('status', (s: { code: number; details: string }) => resolve({ code: s.code, details: s.details, messages }));
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

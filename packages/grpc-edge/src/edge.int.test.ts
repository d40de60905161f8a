import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  AdmissionServiceClient,
  AdmissionServiceService,
  DomainError,
  GenerateRequest,
  GetRequestResponse,
  type AdmissionServiceServer,
  type GenerateResponse,
} from '@switchyard/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { createGrpcEdge } from './handlers.js';
import { serve, type Served } from './serve.js';

/** grpc.health.v1 Check for the whole server: 1 SERVING, 2 NOT_SERVING (raw protobuf, one varint field). */
function healthOf(address: string): Promise<number> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise<number>((resolve, reject) =>
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      (e, res) => (e ? reject(e) : resolve(res && res.length >= 2 ? res[1]! : 0)),
    ),
  ).finally(() => client.close());
}

/** Messages with every field at its default (what decoding no bytes gives), then what a test sets. */
const response = (fields: Partial<GetRequestResponse>): GetRequestResponse => ({ ...GetRequestResponse.decode(new Uint8Array()), ...fields });
const generateRequest = (model: string): GenerateRequest => ({ ...GenerateRequest.decode(new Uint8Array()), model });

const bearer = (key: string) => {
  const m = new Metadata();
  m.set('authorization', `Bearer ${key}`);
  return m;
};

const errors: object[] = [];
const warnings: string[] = [];
const logger = { error: (details: object) => void errors.push(details), warn: (_details: object, message: string) => void warnings.push(message) };
let served: Served | undefined;
let client: AdmissionServiceClient | undefined;

afterEach(async () => {
  client?.close();
  await served?.stop(100);
  errors.length = 0;
  warnings.length = 0;
});

/** A server whose handlers do what a test asks; the key is the principal. */
async function start(
  handlers: (edge: ReturnType<typeof createGrpcEdge<string>>) => Partial<AdmissionServiceServer>,
  options: { serving?: boolean; stalledStreamMs?: number } = {},
) {
  const { stalledStreamMs, ...serveOptions } = options;
  const edge = createGrpcEdge<string>({
    logger,
    stalledStreamMs,
    authenticate: (metadata) => {
      const key = String(metadata.get('authorization')[0] ?? '').replace(/^Bearer /, '');
      if (key !== 'good') throw new DomainError('UNAUTHENTICATED', 'unknown API key');
      return key;
    },
  });
  served = await serve({ listen: '127.0.0.1:0', services: [{ definition: AdmissionServiceService, handlers: handlers(edge) }], ...serveOptions });
  client = new AdmissionServiceClient(served.address, credentials.createInsecure());
  return { served, client };
}

/**
 * A Generate call sent as raw HTTP/2 on `session`: one gRPC frame, then the end of the request.
 * `unread`: the caller never reads, so the server's output fills the window. Errors are read
 * from the stream's close.
 */
function rawGenerate(session: ClientHttp2Session, unread = false): ClientHttp2Stream {
  const request = Buffer.from(GenerateRequest.encode(generateRequest('m')).finish());
  const stream = session.request({
    ':method': 'POST',
    ':path': '/switchyard.v1.AdmissionService/Generate',
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: 'Bearer good',
  });
  stream.on('error', () => {});
  if (unread) stream.pause();
  stream.end(Buffer.concat([Buffer.from([0, 0, 0, 0, request.length]), request]));
  return stream;
}

const getRequest = (c: AdmissionServiceClient, key: string, requestId = 'req_1') =>
  new Promise<GetRequestResponse>((resolve, reject) => c.getRequest({ requestId }, bearer(key), (e, r) => (e ? reject(e) : resolve(r!))));

describe('the gRPC edge', () => {
  it('answers a unary call with what the handler returns, with the principal authenticate gave', async () => {
    const { client } = await start((edge) => ({
      getRequest: edge.unary(async (r, { principal }) => response({ requestId: `${r.requestId} for ${principal}` })),
    }));
    await expect(getRequest(client, 'good')).resolves.toMatchObject({ requestId: 'req_1 for good' });
  });

  it('refuses a call authenticate refuses, before the handler runs', async () => {
    let ran = false;
    const { client } = await start((edge) => ({ getRequest: edge.unary(async () => ((ran = true), response({}))) }));
    await expect(getRequest(client, 'bad')).rejects.toMatchObject({ code: status.UNAUTHENTICATED, details: 'unknown API key' });
    expect(ran).toBe(false);
  });

  it('checks the key before the request: bytes that are not a message get UNAUTHENTICATED without a key, INVALID_ARGUMENT with one', async () => {
    let ran = false;
    const { served } = await start((edge) => ({ getRequest: edge.unary(async () => ((ran = true), response({}))) }));
    const raw = new Client(served.address, credentials.createInsecure());
    const send = (key: string) =>
      new Promise<ServiceError | null>((resolve) =>
        raw.makeUnaryRequest(
          '/switchyard.v1.AdmissionService/GetRequest',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0xff, 0xff, 0xff]),
          bearer(key),
          (e) => resolve(e),
        ),
      );
    await expect(send('bad')).resolves.toMatchObject({ code: status.UNAUTHENTICATED, details: 'unknown API key' });
    await expect(send('good')).resolves.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('not a valid message for /switchyard.v1.AdmissionService/GetRequest'),
    });
    raw.close();
    expect(ran).toBe(false);
    expect(errors).toEqual([]);
  });

  it('maps a domain error to its status and message, and logs nothing', async () => {
    const { client } = await start((edge) => ({
      getRequest: edge.unary(async () => {
        throw new DomainError('NOT_FOUND', 'no request req_1 for this API key');
      }),
    }));
    await expect(getRequest(client, 'good')).rejects.toMatchObject({ code: status.NOT_FOUND, details: 'no request req_1 for this API key' });
    expect(errors).toEqual([]);
  });

  it('answers any other error INTERNAL without its message, and logs it once with the method', async () => {
    const { client } = await start((edge) => ({
      getRequest: edge.unary(async () => {
        throw new Error('connection string postgres://secret@db');
      }),
    }));
    const e = (await getRequest(client, 'good').catch((x: ServiceError) => x)) as ServiceError;
    expect(e.code).toBe(status.INTERNAL);
    expect(e.details).not.toContain('secret');
    expect(errors).toEqual([expect.objectContaining({ method: '/switchyard.v1.AdmissionService/GetRequest' })]);
  });

  it('streams what a server-stream handler writes, then ends the call; an error ends it with its status', async () => {
    const { client } = await start((edge) => ({
      generate: edge.serverStream(async (r, _ctx, write) => {
        write({ event: { $case: 'started', started: { requestId: 'req_1', model: r.model } } });
        if (r.model === 'fail') throw new DomainError('RESOURCE_EXHAUSTED', 'over budget', { retryAfterMs: 500 });
      }),
    }));
    const run = (model: string) =>
      new Promise<{ messages: GenerateResponse[]; error?: ServiceError }>((resolve) => {
        const messages: GenerateResponse[] = [];
        const call = client.generate(generateRequest(model), bearer('good'));
        call.on('data', (m: GenerateResponse) => messages.push(m));
        call.on('error', (error: ServiceError) => resolve({ messages, error }));
        call.on('end', () => resolve({ messages }));
      });
    const ok = await run('m1');
    expect(ok.messages).toHaveLength(1);
    expect(ok.error).toBeUndefined();
    const failed = await run('fail');
    expect(failed.error).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: 'over budget' });
    expect(failed.error!.metadata.get('retry-after-ms')).toEqual(['500']);
  });

  it('aborts the handler signal when the caller cancels', async () => {
    let aborted: () => void = () => {};
    const abortSeen = new Promise<void>((resolve) => (aborted = resolve));
    const { client } = await start((edge) => ({
      generate: edge.serverStream(async (_r, { signal }, write) => {
        write({ event: { $case: 'started', started: { requestId: 'req_1', model: 'm' } } });
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        aborted();
      }),
    }));
    const call = client.generate(generateRequest('m'), bearer('good'));
    call.on('error', () => {});
    call.once('data', () => call.cancel());
    await abortSeen;
  });

  it('reports health: NOT_SERVING until the service says so, SERVING after, NOT_SERVING once stopping', async () => {
    const { served } = await start(() => ({}), { serving: false });
    expect(await healthOf(served.address)).toBe(2);
    served.setServing(true);
    expect(await healthOf(served.address)).toBe(1);
    const stopping = served.stop(5_000);
    served.setServing(true); // a late bus-health callback must not undo the stop
    await stopping;
    await expect(healthOf(served.address)).rejects.toMatchObject({ code: status.UNAVAILABLE });
  });

  it('cuts calls still open when the grace period ends', async () => {
    let opened: () => void = () => {};
    const open = new Promise<void>((resolve) => (opened = resolve));
    const { served, client } = await start((edge) => ({ generate: edge.serverStream(() => (opened(), new Promise<void>(() => {}))) }));
    const ended = new Promise<ServiceError>((resolve) => {
      const call = client.generate(generateRequest('m'), bearer('good'));
      call.on('error', resolve);
    });
    await open;
    const started = Date.now();
    await served.stop(300);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await ended).code).toBeDefined();
  });

  /** 20,000 chunks of 100 bytes: about 2 MB, far past one HTTP/2 window (64 KB). */
  const flood = (write: (m: GenerateResponse) => void) => {
    for (let seq = 0; seq < 20_000; seq++) write({ event: { $case: 'chunk', chunk: { text: 'x'.repeat(100), seq } } });
  };

  it('resets a stream whose caller stops reading once its output waited stalledStreamMs, and aborts the handler', async () => {
    let aborted = false;
    const { served } = await start(
      (edge) => ({
        generate: edge.serverStream(async (_r, { signal }, write) => {
          flood(write);
          // The handler is still running (a generation in progress) when the stream stalls.
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => ((aborted = true), resolve())));
        }),
      }),
      { stalledStreamMs: 1_000 },
    );
    const session = connect(`http://${served.address}`);
    // Never reads: the window fills and the rest of the output waits on the server.
    const stream = rawGenerate(session, true);
    const started = Date.now();
    const rstCode = await new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode)));
    session.destroy();
    expect(rstCode).toBe(constants.NGHTTP2_CANCEL);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(aborted).toBe(true);
    expect(warnings).toEqual(['caller stopped reading its stream; stream reset']);
  });

  it('resets a finished stream whose status still waits behind unread output after stalledStreamMs', async () => {
    const { served } = await start((edge) => ({ generate: edge.serverStream(async (_r, _ctx, write) => flood(write)) }), { stalledStreamMs: 1_000 });
    const session = connect(`http://${served.address}`);
    const stream = rawGenerate(session, true);
    const rstCode = await new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode)));
    session.destroy();
    expect(rstCode).toBe(constants.NGHTTP2_CANCEL);
  });

  it('leaves a caller that reads its stream alone, however much it is sent at once', async () => {
    const { client } = await start((edge) => ({ generate: edge.serverStream(async (_r, _ctx, write) => flood(write)) }), { stalledStreamMs: 1_000 });
    const received = await new Promise<number>((resolve, reject) => {
      let n = 0;
      const call = client.generate(generateRequest('m'), bearer('good'));
      call.on('data', () => n++);
      call.on('error', reject);
      call.on('end', () => resolve(n));
    });
    expect(received).toBe(20_000);
    expect(warnings).toEqual([]);
  });

  it('does not handle a call its caller reset in the same breath as it opened it (rapid reset)', async () => {
    let handled = 0;
    const { served, client } = await start((edge) => ({ generate: edge.serverStream(async () => void handled++) }));
    const session = connect(`http://${served.address}`);
    await new Promise((resolve) => session.once('connect', resolve));
    const streams = Array.from({ length: 200 }, () => {
      const stream = rawGenerate(session);
      stream.close(constants.NGHTTP2_CANCEL);
      return new Promise((resolve) => stream.on('close', resolve));
    });
    await Promise.all(streams);
    session.destroy();
    // A call that is not reset is still handled.
    await new Promise<void>((resolve, reject) => {
      const call = client.generate(generateRequest('m'), bearer('good'));
      call.on('data', () => {});
      call.on('error', reject);
      call.on('end', resolve);
    });
    expect(handled).toBe(1);
  });
});

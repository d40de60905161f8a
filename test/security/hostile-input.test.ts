import { connect } from 'node:net';
import { Client, Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { AdmissionServiceClient, CompleteRequest, Tier } from '@switchyard/contracts';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admittedRequests } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;
let redis: Redis;
let admission: AdmissionServiceClient;
let raw: Client;

beforeAll(async () => {
  system = await startSystem();
  redis = new Redis(system.servers.redis.url);
  admission = new AdmissionServiceClient(system.admissionAddress, credentials.createInsecure());
  raw = new Client(system.admissionAddress, credentials.createInsecure());
}, 60_000);
afterAll(async () => {
  admission?.close();
  raw?.close();
  redis?.disconnect();
  await system?.stop();
});

const auth = (value = `Bearer ${system.apiKey}`) => {
  const m = new Metadata();
  m.set('authorization', value);
  return m;
};
const within = (ms: number) => ({ deadline: Date.now() + ms });
const complete = { model: 'llama-3.1-8b', prompt: 'hi', maxTokens: 2, tier: Tier.TIER_UNSPECIFIED, idempotencyKey: '', feature: '', seed: 0, stop: [] };

/** A unary call with hand-made request bytes, as a hostile or broken client would send them. */
const rawUnary = (method: string, bytes: Buffer) =>
  new Promise<ServiceError | Buffer>((resolve) =>
    raw.makeUnaryRequest(
      `/switchyard.v1.AdmissionService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      auth(),
      within(5_000),
      (e, r) => resolve(e ?? r!),
    ),
  );

/** Every request record admission left in Redis and every request it queued, to prove a refusal left neither. */
const footprint = async () => ({ records: (await redis.keys('sy:req:*')).length, queued: (await admittedRequests(system.nc)).length });

/** Sends bytes over a fresh TCP connection and returns everything the server answered before it closed. */
function rawHttp(text: string): Promise<string> {
  const { hostname, port } = new URL(system.httpUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (c) => (answer += c));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e)));
    socket.on('close', () => resolve(answer));
    // Half-close after the request: a body shorter than its Content-Length then ends early.
    socket.end(text);
  });
}

/** Status and parsed JSON body of a raw HTTP/1.1 answer. */
const parseAnswer = (answer: string) => ({
  status: Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0),
  body: JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as unknown,
});

const openAiShape = (code: string) => ({ error: { message: expect.any(String), type: 'invalid_request_error', code, param: null } });

const post = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${system.apiKey}` }) =>
  fetch(`${system.httpUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('gRPC', () => {
  it('refuses a 100 KB request id as INVALID_ARGUMENT without echoing it, and the connection keeps serving', async () => {
    const err = await new Promise<ServiceError | null>((resolve) =>
      admission.getRequest({ requestId: 'x'.repeat(100_000) }, auth(), within(5_000), (e) => resolve(e)),
    );
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('request_id must be "req_"') });
    expect(err!.details.length).toBeLessThan(300);
    const next = await new Promise<ServiceError | null>((resolve) => admission.complete(complete, auth(), within(5_000), (e) => resolve(e)));
    expect(next).toBeNull();
  });

  it('refuses bytes that are not protobuf as INVALID_ARGUMENT on unary and streaming methods', async () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff]);
    for (const method of ['GetRequest', 'Complete']) {
      expect(await rawUnary(method, garbage)).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining(`AdmissionService/${method}`) });
    }
    const streamed = await new Promise<ServiceError>((resolve) => {
      const call = raw.makeServerStreamRequest(
        '/switchyard.v1.AdmissionService/Generate',
        (b: Buffer) => b,
        (b: Buffer) => b,
        garbage,
        auth(),
        within(5_000),
      );
      call.on('data', () => {});
      call.on('error', resolve);
    });
    expect(streamed).toMatchObject({ code: status.INVALID_ARGUMENT });
  });

  it('policy and billing refuse bytes that are not protobuf as INVALID_ARGUMENT too', async () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff]);
    for (const [address, path] of [
      [system.policyAddress, '/switchyard.v1.PolicyService/Check'],
      [system.billingAddress, '/switchyard.v1.BillingService/GetInvoice'],
    ] as const) {
      const client = new Client(address, credentials.createInsecure());
      const answer = await new Promise<ServiceError | Buffer>((resolve) =>
        client.makeUnaryRequest(
          path,
          (b: Buffer) => b,
          (b: Buffer) => b,
          garbage,
          auth(),
          within(5_000),
          (e, r) => resolve(e ?? r!),
        ),
      );
      client.close();
      expect(answer).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining(path.slice(1)) });
    }
  });

  it('refuses a seed of 2^64-1 as INVALID_ARGUMENT naming the limit, and records nothing', async () => {
    const before = await footprint();
    // Field 7 (seed), varint 2^64-1: valid protobuf that a JS client cannot even encode.
    const bytes = Buffer.concat([
      Buffer.from(CompleteRequest.encode(complete).finish()),
      Buffer.from([0x38, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ]);
    expect(await rawUnary('Complete', bytes)).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('seed') });
    expect(await footprint()).toEqual(before);
  });

  it('refuses two API keys in one authorization value as UNAUTHENTICATED, saying why', async () => {
    const err = await new Promise<ServiceError | null>((resolve) =>
      admission.complete(complete, auth(`Bearer ${system.apiKey}, Bearer ${system.otherApiKey}`), within(5_000), (e) => resolve(e)),
    );
    expect(err).toMatchObject({ code: status.UNAUTHENTICATED, details: expect.stringContaining('more than one authorization value') });
  });
});

describe('HTTP', () => {
  it('refuses seeds of -1, 1.5 and 2^64 with 400 and no retry hint, and records nothing', async () => {
    const before = await footprint();
    for (const seed of [-1, 1.5, 2 ** 64]) {
      const res = await post({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, seed });
      expect(res.status).toBe(400);
      expect(res.headers.get('retry-after')).toBeFalsy();
      expect(await res.json()).toMatchObject({ error: { message: expect.stringContaining('seed must be an integer'), type: 'invalid_request_error' } });
    }
    expect(await footprint()).toEqual(before);
  });

  it('refuses messages: [null] with 400, not 500', async () => {
    const res = await post({ model: 'llama-3.1-8b', messages: [null] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { message: 'messages[0] must be an object with "role" and "content"' } });
  });

  it('refuses two authorization headers with 401, saying why', async () => {
    const headers = new Headers({ 'content-type': 'application/json' });
    headers.append('authorization', `Bearer ${system.apiKey}`);
    headers.append('authorization', `Bearer ${system.otherApiKey}`);
    const res = await fetch(`${system.httpUrl}/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { message: expect.stringContaining('more than one authorization value'), type: 'authentication_error' } });
  });

  it('authenticates before it reads the body: no key gets 401, never a hint about the body', async () => {
    for (const body of ['{}', '{"model":', 'not json at all']) {
      const res = await post(body, {});
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', code: 'unauthenticated' } });
    }
  });

  it('answers an unknown route with 404 in the OpenAI error shape', async () => {
    const res = await fetch(`${system.httpUrl}/completions/nope`, { headers: { authorization: `Bearer ${system.apiKey}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual(openAiShape('not_found'));
  });

  it('answers headers that are too large with 431 in the OpenAI error shape', async () => {
    const answer = parseAnswer(await rawHttp(`GET /v1/models HTTP/1.1\r\nhost: x\r\nx-padding: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(answer).toEqual({ status: 431, body: openAiShape('request_header_fields_too_large') });
  });

  it('answers a body shorter than its Content-Length, and Content-Length beside chunking, with 400 in the OpenAI error shape', async () => {
    const body = JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }] });
    const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${system.apiKey}\r\ncontent-type: application/json\r\n`;
    const short = parseAnswer(await rawHttp(`${head}content-length: ${body.length + 50}\r\n\r\n${body}`));
    expect(short).toEqual({ status: 400, body: openAiShape('invalid_request') });
    const smuggled = parseAnswer(await rawHttp(`${head}content-length: 10\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`));
    expect(smuggled).toEqual({ status: 400, body: openAiShape('invalid_request') });
  });
});

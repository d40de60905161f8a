import { isDeepStrictEqual } from 'node:util';
import { Metadata, status } from '@grpc/grpc-js';
import { AdmissionServiceService, BatchServiceService, BillingServiceService, OpsServiceService } from '@switchyard/contracts';
import { startOpsServer, type OpsServer } from '@switchyard/scheduler';
import { createLogger } from '@switchyard/telemetry';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatLine } from '../support/batch-files.js';
import { authorization, rawCall, rawClient, type RawAnswer, type RawMethod } from '../support/raw-grpc.js';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Scenario 9 of the security suite: generated malformed input on every gRPC method and HTTP
 * route. What is right, decided once:
 * - a frame the protobuf decoder refuses (garbage, truncated, an impossible wire type) is
 *   INVALID_ARGUMENT naming the method, after the key was checked: no key, UNAUTHENTICATED;
 * - a known field sent with another wire type is an unknown field, as every protobuf parser
 *   treats it: the answer is that of the request without it;
 * - an enum value the API does not define (tier 99) is INVALID_ARGUMENT naming the field;
 * - over HTTP, a body that is not the route's JSON is 400; a model or id that does not exist
 *   404; no key 401; every answer in OpenAI's error shape.
 * No answer carries a stack trace or a path of the server's files, and no input crashes a
 * service or leaves a promise rejected unhandled.
 */

let system: RunningSystem;
let ops: OpsServer;
/** A file of the caller's own, so a batch request that names it gets past the lookup to what is wrong with it. */
let ownFileId = '';
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  system = await startSystem({ batch: {} });
  const form = new FormData();
  form.set('purpose', 'batch');
  form.set('file', new Blob([chatLine('a', 'hello')]), 'a.jsonl');
  const upload = await fetch(`${system.httpUrl}/files`, { method: 'POST', headers: { authorization: `Bearer ${system.apiKey}` }, body: form });
  ownFileId = ((await upload.json()) as { id: string }).id;
  ops = await startOpsServer(
    '127.0.0.1:0',
    () => system.scheduler.ops,
    system.scheduler.operatorActions,
    system.tenants.keyring,
    createLogger({ service: 'ops', level: 'silent' }),
  );
}, 60_000);
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await ops?.stop();
  await system?.stop();
});

const RUNS = 200;
const leaksInternals = (text: string) => /^\s*at /m.test(text) || /\bat \S+ \(/.test(text) || /\/work\/|node_modules|\.ts:\d|\.js:\d/.test(text);

/** A generated method definition, as far as this file uses it. */
type Method = RawMethod & { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): unknown };

const decodes = (method: Method, bytes: Buffer) => {
  try {
    return { ok: true as const, value: method.requestDeserialize(bytes) };
  } catch {
    return { ok: false as const };
  }
};

/** A request with every scalar field set, to cut short. */
function sampleOf(method: Method): Buffer {
  const empty = method.requestDeserialize(Buffer.alloc(0)) as Record<string, unknown>;
  const filled = Object.fromEntries(
    Object.entries(empty).map(([k, v]) => [
      k,
      typeof v === 'string'
        ? `value-of-${k}-0123456789`
        : typeof v === 'number'
          ? 1
          : typeof v === 'boolean'
            ? true
            : v instanceof Uint8Array
              ? Buffer.from('{"a":1}\n')
              : v,
    ]),
  );
  return method.requestSerialize(filled);
}

const varint = (n: number | bigint): number[] => {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
};

/** One field with the given number and wire type, with a payload of that wire type. */
const fieldArb = fc
  .record({
    field: fc.integer({ min: 1, max: 9 }),
    wire: fc.integer({ min: 0, max: 7 }),
    value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    bytes: fc.uint8Array({ maxLength: 12 }),
  })
  .map(({ field, wire, value, bytes }) => {
    const tag = varint((field << 3) | wire);
    const payload = [[...varint(value)], [...Buffer.alloc(8, 7)], [...varint(bytes.length), ...bytes], [], [], [...Buffer.alloc(4, 7)], [], []][wire]!;
    return Buffer.from([...tag, ...payload]);
  });

interface Frame {
  readonly kind: string;
  readonly bytes: Buffer;
}

/** Frames the decoder refuses, or whose every field has a wire type the message does not declare for it. */
function framesFor(method: Method): fc.Arbitrary<Frame> {
  const empty = method.requestDeserialize(Buffer.alloc(0));
  const sample = sampleOf(method);
  const undecodable = (f: Frame) => !decodes(method, f.bytes).ok;
  const kinds: fc.Arbitrary<Frame>[] = [
    fc
      .uint8Array({ minLength: 1, maxLength: 96 })
      .map((b) => ({ kind: 'garbage', bytes: Buffer.from(b) }))
      .filter(undecodable),
    fc
      .array(fieldArb, { minLength: 1, maxLength: 4 })
      .map((fields) => ({ kind: 'wire type', bytes: Buffer.concat(fields) }))
      .filter((f) => {
        const d = decodes(method, f.bytes);
        return !d.ok || isDeepStrictEqual(d.value, empty);
      }),
  ];
  // A message without fields cannot be cut short.
  if (sample.length > 1) {
    kinds.push(
      fc
        .integer({ min: 1, max: sample.length - 1 })
        .map((n) => ({ kind: 'truncated', bytes: sample.subarray(0, n) }))
        .filter(undecodable),
    );
  }
  if (method.path.endsWith('/Generate') || method.path.endsWith('/Complete')) {
    kinds.push(
      fc.oneof(fc.integer({ min: 4, max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31), max: -1 })).map((tier) => ({
        kind: 'unknown enum',
        bytes: method.requestSerialize({
          ...(method.requestDeserialize(Buffer.alloc(0)) as object),
          model: 'llama-3.1-8b',
          prompt: 'hello',
          maxTokens: 2,
          tier,
        }),
      })),
    );
  }
  // Well-formed messages whose every string is hostile: NUL and control characters, unpaired
  // surrogates' replacement, 4-byte characters, or 16 KiB of text (under every service's message limit).
  const strings = Object.entries(empty as Record<string, unknown>).filter(([, v]) => typeof v === 'string');
  if (strings.length) {
    kinds.push(
      fc
        .oneof(
          fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map((t) => `${t}\0`),
          fc.constant('\u0000\u0001\u001b[31m\ud83d\ude00'),
          fc.constant('x'.repeat(16_384)),
        )
        .map((text) => ({
          kind: 'hostile strings',
          bytes: method.requestSerialize({ ...(empty as object), ...Object.fromEntries(strings.map(([k]) => [k, text])) }),
        })),
    );
  }
  return fc.oneof(...kinds);
}

/** Codes that say the caller's request was wrong: what hostile strings must get, never a server fault. */
const CLIENT_ERRORS = [status.INVALID_ARGUMENT, status.NOT_FOUND, status.PERMISSION_DENIED, status.FAILED_PRECONDITION];

/** What `frame` must get, given what the empty request got. */
function expected(method: Method, frame: Frame, baseline: RawAnswer): { code: number | number[]; mentions?: string } {
  if (frame.kind === 'hostile strings') return { code: CLIENT_ERRORS };
  if (frame.kind === 'unknown enum') return { code: status.INVALID_ARGUMENT, mentions: 'tier' };
  if (!decodes(method, frame.bytes).ok) return { code: status.INVALID_ARGUMENT, mentions: method.path.slice(1) };
  return { code: baseline.code };
}

describe('malformed protobuf frames', () => {
  it('answers every generated frame on every method exactly as decided, and each service still serves afterwards', async () => {
    const services: Array<[string, string, Record<string, Method>, string]> = [
      ['admission', system.admissionAddress, AdmissionServiceService as unknown as Record<string, Method>, system.apiKey],
      ['batch', system.batchAddress!, BatchServiceService as unknown as Record<string, Method>, system.apiKey],
      ['billing', system.billingAddress, BillingServiceService as unknown as Record<string, Method>, system.apiKey],
      ['ops', ops.address, OpsServiceService as unknown as Record<string, Method>, system.operatorApiKey],
    ];
    const tally = new Map<string, number>();
    const problems: string[] = [];
    let calls = 0;
    let wrong = 0;
    const started = Date.now();
    for (const [, address, definition, key] of services) {
      const client = rawClient(address);
      for (const method of Object.values(definition)) {
        const baseline = await rawCall(client, method, Buffer.alloc(0), authorization(`Bearer ${key}`));
        // The empty request is a client's mistake or a valid read, never a server fault.
        expect([status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.PERMISSION_DENIED], `${method.path} empty: ${baseline.details}`).toContain(
          baseline.code,
        );
        await fc.assert(
          fc.asyncProperty(framesFor(method), fc.boolean(), async (frame, withKey) => {
            const answer = await rawCall(client, method, frame.bytes, withKey ? authorization(`Bearer ${key}`) : new Metadata());
            calls++;
            const want: { code: number | number[]; mentions?: string } = withKey ? expected(method, frame, baseline) : { code: status.UNAUTHENTICATED };
            const label = `${frame.kind}${withKey ? '' : ', no key'}`;
            tally.set(`${label} ${status[answer.code]}`, (tally.get(`${label} ${status[answer.code]}`) ?? 0) + 1);
            const wanted = Array.isArray(want.code) ? want.code : [want.code];
            const problem = !wanted.includes(answer.code)
              ? `${status[answer.code]} (${answer.details.slice(0, 200)}), not ${wanted.map((c) => status[c]).join(' or ')}`
              : want.mentions && !answer.details.includes(want.mentions)
                ? `"${answer.details}" does not mention ${want.mentions}`
                : answer.code !== status.OK && (!answer.details || answer.details.length > 1_100)
                  ? `a message of ${answer.details.length} characters`
                  : leaksInternals(answer.details)
                    ? `internals in "${answer.details}"`
                    : undefined;
            // Every run is counted and checked; the first few wrong answers per method are kept.
            if (problem && problems.filter((p) => p.startsWith(method.path)).length < 3) {
              problems.push(`${method.path} ${label} ${frame.bytes.toString('hex').slice(0, 80)}: ${problem}`);
            }
            if (problem) wrong++;
          }),
          { numRuns: RUNS },
        );
      }
      // Still up: the empty request of the first method answers as before.
      const first = Object.values(definition)[0]!;
      expect((await rawCall(client, first, Buffer.alloc(0), authorization(`Bearer ${key}`))).code).not.toBe(status.UNAVAILABLE);
      client.close();
    }
    const good = await fetch(`${system.httpUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 2 }),
    });
    console.log(
      `malformed protobuf: ${calls} frames to ${services.reduce((n, [, , d]) => n + Object.keys(d).length, 0)} methods in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
        `${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}; wrong answers ${wrong}; unhandled rejections ${unhandled.length}; a good request afterwards ${good.status}`,
    );
    expect(problems).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(good.status).toBe(200);
  }, 120_000);
});

const CHAT = { model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 };
const TEXT = { model: 'llama-3.1-8b', prompt: 'hi', max_tokens: 2 };
const notJson = fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter((t) => {
  try {
    JSON.parse(t);
    return false;
  } catch {
    return true;
  }
});
const json = fc.jsonValue({ maxDepth: 4 });
const notObject = json.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v));
/** Arrays nested `depth` deep, as JSON text: a parser or validator that recurses runs out of stack. */
const deepArray = fc.integer({ min: 50, max: 20_000 }).map((depth) => `${'['.repeat(depth)}"x"${']'.repeat(depth)}`);
/** Numbers no token limit takes: fractions, negatives, beyond every limit, past 2^53. */
const badCount = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n)),
  fc.integer({ max: -1 }),
  fc.integer({ min: 1_000_000 }),
  fc.constantFrom(2 ** 53, 2 ** 64, 1e308, -1e308),
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const unicode = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
/** Names a model could have (lower-case letters, digits, ".", ":", "-"), and strings no model name can be. */
const modelName = fc.stringMatching(/^[a-z0-9.:-]{1,20}$/);
const notModelName = unicode.filter((s) => /[^a-z0-9.:-]/.test(s));
/** Query values no page limit (1..100) takes. */
const badLimit = fc.oneof(
  fc.integer({ max: 0 }).map(String),
  fc.integer({ min: 101 }).map(String),
  fc
    .double({ noNaN: true, min: 1.01, max: 99.99 })
    .filter((n) => !Number.isInteger(n))
    .map(String),
  unicode.map((s) => `x${s}`),
);

interface HttpCase {
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  /** A multipart upload of a valid batch file under this file name, instead of a JSON body. */
  readonly form?: string;
  readonly status: number;
}

const withField = (base: object, field: string, value: unknown) => JSON.stringify({ ...base, [field]: value });
const bodyCase = (path: string, kind: string, status: number) => (body: string) => ({ kind, method: 'POST', path, body, status }) satisfies HttpCase;

/** Per route, inputs that are wrong in one way each, with the status that way calls for. */
const httpRoutes: Array<[string, fc.Arbitrary<HttpCase>]> = [
  [
    'POST /v1/chat/completions',
    fc.oneof(
      notJson.map(bodyCase('/chat/completions', 'not JSON', 400)),
      notObject.map((v) => bodyCase('/chat/completions', 'not an object', 400)(JSON.stringify(v))),
      json.filter((v) => typeof v !== 'string').map((v) => bodyCase('/chat/completions', 'model not a string', 400)(withField(CHAT, 'model', v))),
      modelName.map((s) => bodyCase('/chat/completions', 'unknown model', 404)(withField(CHAT, 'model', `no-such-${s}`))),
      notModelName.map((s) => bodyCase('/chat/completions', 'not a model name', 400)(withField(CHAT, 'model', s))),
      json.filter((v) => !Array.isArray(v)).map((v) => bodyCase('/chat/completions', 'messages not an array', 400)(withField(CHAT, 'messages', v))),
      deepArray.map((d) => bodyCase('/chat/completions', 'deep arrays', 400)(`{"model":"llama-3.1-8b","messages":[{"role":"user","content":${d}}]}`)),
      badCount.map((n) => bodyCase('/chat/completions', 'bad max_tokens', 400)(withField(CHAT, 'max_tokens', n))),
    ),
  ],
  [
    'POST /v1/completions',
    fc.oneof(
      notJson.map(bodyCase('/completions', 'not JSON', 400)),
      notObject.map((v) => bodyCase('/completions', 'not an object', 400)(JSON.stringify(v))),
      json
        .filter((v) => typeof v !== 'string' && !(Array.isArray(v) && v.every((p) => typeof p === 'string')))
        .map((v) => bodyCase('/completions', 'prompt of the wrong type', 400)(withField(TEXT, 'prompt', v))),
      modelName.map((s) => bodyCase('/completions', 'unknown model', 404)(withField(TEXT, 'model', `no-such-${s}`))),
      notModelName.map((s) => bodyCase('/completions', 'not a model name', 400)(withField(TEXT, 'model', s))),
      deepArray.map((d) => bodyCase('/completions', 'deep arrays', 400)(`{"model":"llama-3.1-8b","prompt":${d}}`)),
      badCount.map((n) => bodyCase('/completions', 'bad max_tokens', 400)(withField(TEXT, 'max_tokens', n))),
    ),
  ],
  [
    'POST /v1/batches',
    fc.oneof(
      notJson.map(bodyCase('/batches', 'not JSON', 400)),
      notObject.map((v) => bodyCase('/batches', 'not an object', 400)(JSON.stringify(v))),
      json
        .filter((v) => typeof v !== 'string')
        .map((v) =>
          bodyCase(
            '/batches',
            'input_file_id not a string',
            400,
          )(JSON.stringify({ input_file_id: v, endpoint: '/v1/chat/completions', completion_window: '24h' })),
        ),
      fc
        .tuple(unicode, unicode)
        .map(([k, v]) =>
          bodyCase(
            '/batches',
            'NUL in metadata',
            400,
          )(JSON.stringify({ input_file_id: ownFileId, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { [k]: `${v}\0` } })),
        ),
      deepArray.map((d) => bodyCase('/batches', 'deep arrays', 400)(`{"input_file_id":"file-x","endpoint":"/v1/chat/completions","metadata":${d}}`)),
    ),
  ],
  ['POST /v1/files', json.map((v) => bodyCase('/files', 'JSON, not a multipart form', 400)(JSON.stringify(v)))],
  ['POST /v1/files, form', unicode.map((s) => ({ kind: 'NUL in the file name', method: 'POST', path: '/files', form: `${s}\0.jsonl`, status: 400 }))],
  ['GET /v1/models/{id}', unicode.map((s) => ({ kind: 'unknown model', method: 'GET', path: `/models/no-such-${encodeURIComponent(s)}`, status: 404 }))],
  ['GET /v1/files/{id}', unicode.map((s) => ({ kind: 'unknown file', method: 'GET', path: `/files/${encodeURIComponent(s)}`, status: 404 }))],
  ['GET /v1/batches/{id}', unicode.map((s) => ({ kind: 'unknown batch', method: 'GET', path: `/batches/${encodeURIComponent(s)}`, status: 404 }))],
  ['GET /v1/files?limit', badLimit.map((l) => ({ kind: 'bad limit', method: 'GET', path: `/files?limit=${encodeURIComponent(l)}`, status: 400 }))],
  ['GET /v1/files?after', unicode.map((a) => ({ kind: 'bad cursor', method: 'GET', path: `/files?after=x${encodeURIComponent(a)}`, status: 400 }))],
  ['GET /v1/batches?after', unicode.map((a) => ({ kind: 'bad cursor', method: 'GET', path: `/batches?after=x${encodeURIComponent(a)}`, status: 400 }))],
  ['GET /v1/batches?limit', badLimit.map((l) => ({ kind: 'bad limit', method: 'GET', path: `/batches?limit=${encodeURIComponent(l)}`, status: 400 }))],
];

describe('malformed HTTP input', () => {
  it('answers every generated body, path and query on every route with the decided status in OpenAI shape, and still serves afterwards', async () => {
    const tally = new Map<string, number>();
    const problems: string[] = [];
    let calls = 0;
    let wrong = 0;
    const started = Date.now();
    for (const [route, cases] of httpRoutes) {
      await fc.assert(
        fc.asyncProperty(cases, fc.boolean(), async (c, withKey) => {
          const form = new FormData();
          form.set('purpose', 'batch');
          if (c.form !== undefined) form.set('file', new Blob([chatLine('a', 'hello')]), c.form);
          const res = await fetch(`${system.httpUrl}${c.path}`, {
            method: c.method,
            headers: {
              ...(withKey ? { authorization: `Bearer ${system.apiKey}` } : {}),
              ...(c.body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            body: c.form === undefined ? c.body : form,
          });
          const text = await res.text();
          calls++;
          const want = withKey ? c.status : 401;
          const label = `${c.kind}${withKey ? '' : ', no key'}`;
          tally.set(`${res.status}`, (tally.get(`${res.status}`) ?? 0) + 1);
          let message: unknown;
          try {
            message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
          } catch {
            message = undefined;
          }
          const problem =
            res.status !== want
              ? `${res.status}, not ${want}: ${text.slice(0, 200)}`
              : typeof message !== 'string' || !message || message.length > 2_000
                ? `no message a person can act on: ${text.slice(0, 200)}`
                : leaksInternals(text)
                  ? `internals in ${text.slice(0, 300)}`
                  : undefined;
          if (problem && problems.filter((p) => p.startsWith(route)).length < 3)
            problems.push(`${route} ${label} ${(c.body ?? c.path).slice(0, 100)}: ${problem}`);
          if (problem) wrong++;
        }),
        { numRuns: RUNS },
      );
    }
    // A body past the 1 MiB limit is 413 on admission's routes and on the Batch API behind it.
    const huge = JSON.stringify({ ...CHAT, messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] });
    for (const path of ['/chat/completions', '/completions', '/batches']) {
      const res = await fetch(`${system.httpUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
        body: huge,
      });
      const text = await res.text();
      calls++;
      tally.set(`${res.status}`, (tally.get(`${res.status}`) ?? 0) + 1);
      if (res.status !== 413 || leaksInternals(text) || !(JSON.parse(text) as { error?: { message?: string } }).error?.message) {
        problems.push(`POST /v1${path} with 1.1 MB: ${res.status} ${text.slice(0, 200)}`);
        wrong++;
      }
    }
    const good = await fetch(`${system.httpUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...CHAT, messages: [{ role: 'user', content: 'still there?' }] }),
    });
    const batches = await fetch(`${system.httpUrl}/batches`, { headers: { authorization: `Bearer ${system.apiKey}` } });
    console.log(
      `malformed HTTP: ${calls} requests to ${httpRoutes.length} routes in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
        `${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}; wrong answers ${wrong}; unhandled rejections ${unhandled.length}; good requests afterwards ${good.status}, ${batches.status}`,
    );
    expect(problems).toEqual([]);
    expect(unhandled).toEqual([]);
    expect([good.status, batches.status]).toEqual([200, 200]);
  }, 120_000);
});

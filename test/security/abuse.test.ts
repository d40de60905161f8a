import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { AdmissionServiceClient, AdmissionServiceService, CompleteRequest, GenerateRequest, Tier } from '@switchyard/contracts';
import { freePort, waitFor, type ProcessServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRequestInvariants } from '../support/request-invariants.js';
import { connectRawH2, grpcFrame, H2_CANCEL, type RawH2 } from '../support/raw-h2.js';
import { admittedRequests, readStream, trailsOf } from '../support/read-stream.js';
import { startServiceProcess } from '../support/service-process.js';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Issue #23, scenario 8: abuse. Oversize messages and bodies, a gzip bomb, deeply nested
 * JSON, thousands of idle connections, rapid stream resets and readers that never drain,
 * each aimed at an admission process of its own (so its memory is measured alone) by tenant
 * globex, while tenant acme calls Complete 25 times a second. Every abuse gets a clear error
 * or is cut off in bounded time, admission never grows past its bound, acme's p99 stays
 * within 2x of its baseline, and every admitted request ends exactly once.
 *
 * The bound: admission's resident memory grows by less than 64 MB in any one scenario and by
 * less than 160 MB over its warmed-up size through all of them (see MEMORY_BOUND_BYTES). It
 * holds because what an abuser can make admission keep is bounded in size (1 MiB messages and
 * bodies, nothing inflated, JSON no deeper than 64) and in time (idle connections closed after
 * IDLE_MS, at most twice that on gRPC; unread streams reset STALL_MS after their output
 * stopped moving), with the same settings production has at longer defaults (2 min, 30 s).
 */

const IDLE_MS = 9_000;
const STALL_MS = 6_000;
const LIMITS = {
  GRPC_MAX_CONNECTION_IDLE_MS: String(IDLE_MS),
  STALLED_STREAM_MS: String(STALL_MS),
  HTTP_HEADERS_TIMEOUT_MS: String(IDLE_MS),
  HTTP_REQUEST_TIMEOUT_MS: String(IDLE_MS + 2_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: String(IDLE_MS),
};
/**
 * Resident memory admission may add over its warmed-up size, through all six scenarios, and in
 * any one of them. What they measured: the oversize scenario +24..36 MB (V8 growing its heap
 * under a stream of refused 1 MiB+ buffers, then keeping it), each other one under 12 MB, 65..85
 * MB all told; 4,000 idle connections a few MB. Inflating one gzip bomb would take 64 MB by
 * itself, and before streams were reset, a reader that never read kept what it was sent in
 * admission for as long as its connection lived, deadline or not (about 130 KB per 4,096-token
 * stream: 13 MB for 104 streams, without end), so either breaks them.
 */
const MEMORY_BOUND_BYTES = 160 * 1024 * 1024;
const SCENARIO_MEMORY_BOUND_BYTES = 64 * 1024 * 1024;
/** acme's steady load: one Complete every 40 ms (25 a second), for LOAD_MS per scenario: 100 calls, so p99 is not simply the slowest. */
const LOAD_MS = 4_000;
const LOAD_INTERVAL_MS = 40;

let system: RunningSystem;
let admission: ProcessServer;
let grpcPort = 0;
let httpPort = 0;
let metricsPort = 0;
let legit: AdmissionServiceClient;
let startedMs = 0;
let baselineP99 = 0;
let baselineRss = 0;
let peakRss = 0;

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const bearer = (key: string) => {
  const m = new Metadata();
  m.set('authorization', `Bearer ${key}`);
  return m;
};
const completeRequest = (fields: Partial<CompleteRequest> = {}): CompleteRequest => ({
  model: 'llama-3.1-8b',
  prompt: 'hello',
  maxTokens: 8,
  tier: Tier.TIER_UNSPECIFIED,
  idempotencyKey: '',
  feature: '',
  seed: 0,
  stop: [],
  ...fields,
});
/** `413 12, 400 3`: how often each value came. */
const tally = (values: ReadonlyArray<string | number>) =>
  [...values.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<string | number, number>())].map(([v, n]) => `${v} ${n}`).join(', ') || 'none';
/** acme's side of a scenario's figures. */
const legitFigures = (a: Abused<unknown>) =>
  `acme p99 ${a.p99.toFixed(1)} ms (baseline ${baselineP99.toFixed(1)} ms), ${a.failures.length} failed; ` +
  `admission RSS +${mb(a.rssGrowth)} MB, CPU ${a.cpuSeconds.toFixed(2)} s, event-loop delay p99 ${a.loopLagP99Ms.toFixed(0)} ms (max ${a.loopLagMaxMs.toFixed(0)} ms), GC ${(a.gcSeconds * 1000).toFixed(0)} ms`;
const quantile = (ms: number[], q: number) => [...ms].sort((a, b) => a - b)[Math.max(0, Math.ceil(ms.length * q) - 1)] ?? 0;
const p99 = (ms: number[]) => quantile(ms, 0.99);

beforeAll(async () => {
  startedMs = Date.now();
  system = await startSystem();
  [grpcPort, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  admission = await startServiceProcess('admission', {
    NATS_URL: system.servers.nats.url,
    REDIS_URL: system.servers.redis.url,
    POLICY_ADDR: system.policyAddress,
    ADMISSION_LISTEN: `127.0.0.1:${grpcPort}`,
    HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    BATCH_HTTP_URL: 'off',
    // globex's 200 unread internal-tier streams run at once (16 by default), so all are held unread together.
    TENANT_IN_FLIGHT: 'internal=256',
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: 'info',
    ...LIMITS,
  });
  legit = new AdmissionServiceClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
  // Warm admission up (JIT, connections, the model catalog) before anything is measured.
  await waitFor('admission serves acme', () => call(completeRequest()).then((r) => (r.ok ? true : undefined)), 20_000);
  for (let i = 0; i < 40; i++) await call(completeRequest());
  // The baseline is the worse of two quiet windows: on this shared machine one window's p99 is
  // set by whether some other work happened to stall it, and one lucky window is no bar.
  const before = await admissionHealth();
  const quiet = [await legitLoad(LOAD_MS), await legitLoad(LOAD_MS)];
  const after = await admissionHealth();
  for (const q of quiet) expect(q.failures).toEqual([]);
  baselineP99 = Math.max(...quiet.map((q) => p99(q.latencies)));
  baselineRss = rssOf(admission.pid!);
  peakRss = baselineRss;
  console.log(
    `baseline: acme p50 ${quiet.map((q) => quantile(q.latencies, 0.5).toFixed(1)).join(' / ')} ms, p99 ${quiet.map((q) => p99(q.latencies).toFixed(1)).join(' / ')} ms ` +
      `over two quiet windows of ${quiet[0]!.latencies.length} calls; admission RSS ${mb(baselineRss)} MB, CPU ${((after.cpuSeconds - before.cpuSeconds) / 2).toFixed(2)} s a window, ` +
      `event-loop delay p99 ${after.loopLagP99Ms.toFixed(0)} ms`,
  );
}, 90_000);

afterAll(async () => {
  legit?.close();
  await admission?.stop();
  await system?.stop();
});

interface Call {
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
  readonly requestId?: string;
  readonly startedUnixMs: number;
}

/** One acme Complete, timed; never rejects. */
function call(request: CompleteRequest): Promise<Call> {
  const started = performance.now();
  const startedUnixMs = Date.now();
  return new Promise((resolve) =>
    legit.complete(request, bearer(system.apiKey), { deadline: Date.now() + 10_000 }, (e, res) =>
      resolve({ ok: !e, ms: performance.now() - started, error: e ? `${status[e.code]}: ${e.details}` : undefined, requestId: res?.requestId, startedUnixMs }),
    ),
  );
}

/** acme's steady load: a Complete every LOAD_INTERVAL_MS for `ms` (open loop: a slow answer does not slow the next call). */
async function legitLoad(ms: number): Promise<{ latencies: number[]; failures: string[]; slowest: Call[] }> {
  const started = Date.now();
  const calls: Promise<Call>[] = [];
  for (let i = 0; i * LOAD_INTERVAL_MS < ms; i++) {
    calls.push(call(completeRequest({ prompt: `steady call ${i}` })));
    await sleep(Math.max(0, started + (i + 1) * LOAD_INTERVAL_MS - Date.now()));
  }
  const done = await Promise.all(calls);
  return {
    latencies: done.filter((c) => c.ok).map((c) => c.ms),
    failures: done.flatMap((c) => (c.error ? [c.error] : [])),
    slowest: done
      .filter((c) => c.ok)
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 3),
  };
}

/**
 * Where a slow call's time went, hop by hop, from the events REQUESTS and LIFECYCLE kept
 * (DISPATCH and BATCHES are work queues, emptied by their acks): `+12 admitted, +2011 placed...`
 * in ms after the caller sent it. Printed when acme's p99 passes its bound, to tell a stalled
 * consumer (one hop takes seconds) from a starved process (every hop slow).
 */
async function trailOf(calls: readonly Call[]): Promise<string> {
  const trails = await trailsOf(
    system.nc,
    calls.flatMap((c) => (c.requestId ? [c.requestId] : [])),
    ['REQUESTS', 'LIFECYCLE'],
  );
  const hops = (c: Call) =>
    (trails.get(c.requestId ?? '') ?? []).map((h) => `+${h.timeUnixMs - c.startedUnixMs} ${h.subject.split('.').slice(0, 2).join('.')}`);
  return calls.map((c) => `${c.requestId ?? '?'} ${c.ms.toFixed(0)} ms: ${hops(c).join(', ')}`).join('; ');
}

/**
 * Admission's CPU and GC time so far, and its event-loop delay p99 and max since the last look
 * (prom-client resets the delay histogram on each scrape): what an abuse cost the server
 * itself, apart from the rest of the stack that shares this machine.
 */
async function admissionHealth(): Promise<{ cpuSeconds: number; loopLagP99Ms: number; loopLagMaxMs: number; gcSeconds: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const gcSeconds = [...text.matchAll(/^nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  return {
    cpuSeconds: value('process_cpu_seconds_total'),
    loopLagP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
    loopLagMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
    gcSeconds,
  };
}

interface Abused<T> {
  readonly result: T;
  /** acme's p99 during the abuse, and its calls that failed. */
  readonly p99: number;
  /** acme's three slowest calls. */
  readonly slowest: readonly Call[];
  readonly failures: readonly string[];
  /** How far admission's memory rose above where it was when the abuse began. */
  readonly rssGrowth: number;
  /** Admission's CPU seconds over the scenario, and its event-loop delay p99 and max. */
  readonly cpuSeconds: number;
  readonly loopLagP99Ms: number;
  readonly loopLagMaxMs: number;
  /** Admission's time in garbage collection over the scenario. */
  readonly gcSeconds: number;
}

/**
 * Runs acme's load while `abuse` runs (it is told to stop when the load ends), sampling
 * admission's memory; returns acme's p99 and what the abuse reported.
 */
async function whileAbused<T>(abuse: (stop: AbortSignal) => Promise<T>): Promise<Abused<T>> {
  const stop = new AbortController();
  const before = await admissionHealth();
  const startRss = rssOf(admission.pid!);
  let phasePeak = startRss;
  const sampler = setInterval(() => {
    phasePeak = Math.max(phasePeak, rssOf(admission.pid!));
  }, 100);
  try {
    const attack = abuse(stop.signal);
    const load = await legitLoad(LOAD_MS);
    stop.abort();
    const result = await attack;
    phasePeak = Math.max(phasePeak, rssOf(admission.pid!));
    peakRss = Math.max(peakRss, phasePeak);
    const after = await admissionHealth();
    return {
      result,
      p99: p99(load.latencies),
      slowest: load.slowest,
      failures: load.failures,
      rssGrowth: phasePeak - startRss,
      cpuSeconds: after.cpuSeconds - before.cpuSeconds,
      loopLagP99Ms: after.loopLagP99Ms,
      loopLagMaxMs: after.loopLagMaxMs,
      gcSeconds: after.gcSeconds - before.gcSeconds,
    };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * Admission stayed within its memory bound for one scenario, and acme noticed nothing: every
 * call answered, and its p99 within 2x its baseline (the worse of two quiet windows), with a
 * floor of baseline + 150 ms. The floor is there because acme's calls cross the whole stack,
 * and all of it but admission runs in this test's process, beside the load generator, on a
 * 2-core machine shared with other work: in the gzip-bomb scenario, which costs admission
 * nothing (its CPU and event-loop delay as in the baseline), acme's p99 still rose by up to
 * 128 ms over its baseline. What starving admission costs is far more: before its fix the
 * rapid reset had acme's calls fail at their 10 s deadline. Admission's own CPU, event-loop
 * delay and GC time are printed beside it, to tell what the abuse cost admission from what
 * the machine's other work cost acme.
 */
async function expectLegitUnharmed(name: string, abused: Abused<unknown>): Promise<void> {
  expect(abused.rssGrowth, `${name}: admission grew ${mb(abused.rssGrowth)} MB`).toBeLessThan(SCENARIO_MEMORY_BOUND_BYTES);
  const bound = Math.max(2 * baselineP99, baselineP99 + 150);
  expect(abused.failures, `${name}: acme's calls failed`).toEqual([]);
  if (abused.p99 > bound) console.log(`${name}: acme's slowest calls, hop by hop: ${await trailOf(abused.slowest)}`);
  expect(abused.p99, `${name}: acme's p99 ${abused.p99.toFixed(1)} ms, bound ${bound.toFixed(1)} ms`).toBeLessThanOrEqual(bound);
}

/**
 * Runs `task` over and over on `lanes` lanes, `perSecond` times a second in all at most,
 * until `stop` aborts; resolves with every result. The pace keeps the load generator, which
 * shares two cores with every service and acme's client, from taking the CPU acme's p99
 * measures: what is under test is what the abuse costs the server.
 */
async function repeatUntil<T>(stop: AbortSignal, lanes: number, perSecond: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const everyMs = (lanes * 1000) / perSecond;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (!stop.aborted) {
        const started = Date.now();
        results.push(await task(next++));
        await sleep(Math.max(0, started + everyMs - Date.now()));
      }
    }),
  );
  return results;
}

/** Sends `head` and then `body` over a fresh socket and returns what the server answered before it closed, and how long that took. */
function rawHttp(head: string, body: Buffer = Buffer.alloc(0)): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(httpPort, '127.0.0.1');
    let answer = '';
    const done = () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1] ?? 0), text: answer, ms: performance.now() - started });
    socket.on('data', (c) => {
      answer += c.toString();
      // One answer is all this client waits for; a server that keeps the connection open is not waited on.
      const headEnd = answer.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(answer)?.[1];
      if (headEnd >= 0 && length !== undefined && answer.length >= headEnd + 4 + Number(length)) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', done);
    socket.write(head);
    // Like a client that does not wait for 100-continue, it writes the whole body unless an answer came first.
    const pump = (offset: number): void => {
      if (answer || offset >= body.length || socket.destroyed) return;
      socket.write(body.subarray(offset, offset + 65_536), () => pump(offset + 65_536));
    };
    pump(0);
  });
}

const postHead = (headers: Record<string, string>, path = '/v1/chat/completions') =>
  `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${system.otherApiKey}\r\ncontent-type: application/json\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

/** gzip of `parts`, one after the other, compressed as a stream. */
async function gzipStream(parts: Buffer[]): Promise<Buffer> {
  const gzip = createGzip();
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  for (const part of parts) if (!gzip.write(part)) await new Promise((resolve) => gzip.once('drain', resolve));
  gzip.end();
  await done;
  return Buffer.concat(out);
}

/** The OpenAI error body of a raw answer, or undefined when it has none. */
const errorOf = (text: string) => {
  try {
    return (JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error?: { message: string; code: string; type: string } }).error;
  } catch {
    return undefined;
  }
};

/** A gRPC call with hand-made bytes; resolves with its status. */
function rawUnary(client: Client, path: string, bytes: Buffer): Promise<{ code: number; details: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      bearer(system.otherApiKey),
      { deadline: Date.now() + 10_000 },
      (e: ServiceError | null) => resolve({ code: e?.code ?? status.OK, details: e?.details ?? '', ms: performance.now() - started }),
    ),
  );
}

const generateHeaders = (extra: Array<[string, string]> = []): Array<[string, string]> => [
  [':method', 'POST'],
  [':scheme', 'http'],
  [':path', AdmissionServiceService.generate.path],
  [':authority', `127.0.0.1:${grpcPort}`],
  ['content-type', 'application/grpc'],
  ['te', 'trailers'],
  ['authorization', `Bearer ${system.otherApiKey}`],
  ...extra,
];
const generateFrame = (maxTokens: number, tier: Tier = Tier.TIER_UNSPECIFIED, feature = '') =>
  grpcFrame(
    GenerateRequest.encode({
      ...GenerateRequest.decode(new Uint8Array()),
      model: 'llama-3.1-8b',
      prompt: 'tell me a long story',
      maxTokens,
      tier,
      feature,
    }).finish(),
  );

/** globex's requests admitted since `sinceMs`, with their feature tag, and their terminal outcomes, read from the streams. */
async function globexOutcomes(sinceMs: number): Promise<{ admitted: Map<string, string>; outcomes: Map<string, string[]> }> {
  const admitted = new Map<string, string>();
  for (const { subject, event } of await readStream(system.nc, 'REQUESTS')) {
    if (!subject.startsWith('requests.admitted.') || event.envelope?.tenant !== 'globex' || Number(event.envelope.timeUnixMs) < sinceMs) continue;
    const request = event.payload?.$case === 'requestAdmitted' ? event.payload.requestAdmitted.request : undefined;
    admitted.set(event.envelope.requestId, request?.feature ?? '');
  }
  const outcomes = new Map<string, string[]>();
  for (const { subject, event } of await readStream(system.nc, 'LIFECYCLE')) {
    const id = event.envelope?.requestId ?? '';
    if (admitted.has(id)) outcomes.set(id, [...(outcomes.get(id) ?? []), subject.split('.')[1]!]);
  }
  return { admitted, outcomes };
}

/** Waits until every one of globex's requests admitted since `sinceMs` has ended; how many there were (by feature tag) and how they ended. */
async function globexEnded(sinceMs: number) {
  const { admitted, outcomes } = await waitFor(
    'every globex request admitted in the scenario to end',
    async () => {
      const o = await globexOutcomes(sinceMs);
      return [...o.admitted.keys()].every((id) => o.outcomes.has(id)) ? o : undefined;
    },
    30_000,
  );
  const ids = [...admitted.keys()];
  return {
    admitted: ids.length,
    admittedWith: (feature: string) => ids.filter((id) => admitted.get(id) === feature).length,
    endedOnce: ids.filter((id) => outcomes.get(id)!.length === 1).length,
    outcomes: ids.flatMap((id) => outcomes.get(id)!),
  };
}

describe('abuse (issue #23, scenario 8)', () => {
  it('refuses oversize gRPC messages (compressed or not) with RESOURCE_EXHAUSTED and oversize HTTP bodies with 413', async () => {
    const raw = new Client(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    // 8 MiB of prompt, gzip-compressed by the client to a few KB: grpc-js must stop inflating at the 1 MiB limit.
    const bomb = new Client(`127.0.0.1:${grpcPort}`, credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    const twoMiB = Buffer.from(CompleteRequest.encode(completeRequest({ prompt: 'x'.repeat(2 * 1024 * 1024) })).finish());
    const eightMiB = Buffer.from(CompleteRequest.encode(completeRequest({ prompt: 'x'.repeat(8 * 1024 * 1024) })).finish());
    const twoMiBBody = Buffer.alloc(2 * 1024 * 1024, 'a');
    const chunked = Buffer.concat([...Array.from({ length: 32 }, () => Buffer.from(`10000\r\n${'a'.repeat(65_536)}\r\n`)), Buffer.from('0\r\n\r\n')]);
    try {
      const abused = await whileAbused((stop) =>
        Promise.all([
          repeatUntil(stop, 1, 2, () => rawUnary(raw, AdmissionServiceService.complete.path, twoMiB)),
          repeatUntil(stop, 1, 1, () => rawUnary(bomb, AdmissionServiceService.complete.path, eightMiB)),
          repeatUntil(stop, 2, 2, (i) =>
            i % 2 === 0
              ? rawHttp(postHead({ 'content-length': String(twoMiBBody.length) }), twoMiBBody)
              : rawHttp(postHead({ 'transfer-encoding': 'chunked' }), chunked),
          ),
        ]),
      );
      const [grpcPlain, grpcCompressed, http] = abused.result;
      console.log(
        `oversize: ${grpcPlain.length} gRPC 2 MiB -> ${tally(grpcPlain.map((r) => status[r.code]))}, ` +
          `${grpcCompressed.length} gRPC gzip 8 MiB -> ${tally(grpcCompressed.map((r) => status[r.code]))}, ` +
          `${http.length} HTTP 2 MiB bodies -> ${tally(http.map((r) => r.status))}; ${legitFigures(abused)}`,
      );
      for (const r of [...grpcPlain, ...grpcCompressed])
        expect(r).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringMatching(/larger than/) });
      for (const r of http) {
        expect(r.status).toBe(413);
        expect(errorOf(r.text)).toMatchObject({ code: 'request_too_large', type: 'invalid_request_error', message: expect.stringMatching(/too large/i) });
      }
      await expectLegitUnharmed('oversize', abused);
    } finally {
      raw.close();
      bomb.close();
    }
  });

  it('refuses a gzip bomb with 415 before inflating a byte of it', async () => {
    // 64 MiB of JSON that gzip shrinks to about 64 KB: inflated, it would be 64x the body limit. Built a MiB
    // at a time, so the test's own process (every other service runs in it) never holds 64 MiB.
    const inflatedBytes = 64 * 1024 * 1024;
    const bomb = await gzipStream([
      Buffer.from('{"model":"llama-3.1-8b","messages":[{"role":"user","content":"'),
      ...Array.from({ length: 64 }, () => Buffer.alloc(1024 * 1024, 'a')),
      Buffer.from('"}]}'),
    ]);
    const encodings = ['gzip', 'deflate', 'br', 'GZIP', 'gzip, identity'];
    const abused = await whileAbused((stop) =>
      repeatUntil(stop, 2, 10, (i) => rawHttp(postHead({ 'content-encoding': encodings[i % encodings.length]!, 'content-length': String(bomb.length) }), bomb)),
    );
    const result = abused.result;
    console.log(
      `gzip bomb: ${result.length} bombs of ${(bomb.length / 1024).toFixed(0)} KB (${mb(inflatedBytes)} MB inflated) -> ${tally(result.map((r) => r.status))} in p99 ${p99(result.map((r) => r.ms)).toFixed(1)} ms; ` +
        legitFigures(abused),
    );
    for (const r of result) {
      expect(r.status).toBe(415);
      expect(r.text).toMatch(/\r\naccept-encoding: identity\r\n/i);
      expect(errorOf(r.text)).toMatchObject({ code: 'unsupported_media_type', message: expect.stringContaining('send the request body uncompressed') });
    }
    // Far below the 64 MiB that inflating one bomb would take.
    expect(abused.rssGrowth).toBeLessThan(32 * 1024 * 1024);
    await expectLegitUnharmed('gzip bomb', abused);
  });

  it('refuses JSON nested 100,000 deep with 400 at once, wherever it sits, and deeply nested protobuf with INVALID_ARGUMENT', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const chat = (field: string) => `{"model":"llama-3.1-8b","messages":[{"role":"user","content":"hi"}],"${field}":${deep}}`;
    const bodies = [deep, chat('tools'), chat('metadata'), chat('x_unknown'), `{"model":"llama-3.1-8b","messages":[{"role":"user","content":${deep}}]}`];
    // 100,000 nested protobuf groups (field 9, start-group) where a GenerateRequest is expected.
    const groups = Buffer.alloc(100_000, 0x4b);
    const raw = new Client(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    try {
      const abused = await whileAbused((stop) =>
        Promise.all([
          repeatUntil(stop, 2, 10, (i) => {
            const body = Buffer.from(bodies[i % bodies.length]!);
            return rawHttp(postHead({ 'content-length': String(body.length) }, i % 3 === 0 ? '/v1/completions' : '/v1/chat/completions'), body);
          }),
          repeatUntil(stop, 1, 2, () => rawUnary(raw, AdmissionServiceService.complete.path, groups)),
        ]),
      );
      const [http, grpc] = abused.result;
      console.log(
        `deep JSON: ${http.length} bodies nested 100,000 deep -> ${tally(http.map((r) => r.status))} in p99 ${p99(http.map((r) => r.ms)).toFixed(1)} ms, ` +
          `${grpc.length} protobuf frames of 100,000 nested groups -> ${tally(grpc.map((r) => status[r.code]))}; ${legitFigures(abused)}`,
      );
      for (const r of http) {
        expect(r.status).toBe(400);
        expect(errorOf(r.text)).toMatchObject({ code: 'invalid_request', message: 'the JSON body nests arrays or objects more than 64 deep' });
      }
      for (const r of grpc) expect(r).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('not a valid message') });
      // "At once": well under a second even on a loaded machine; a recursive walk of 100,000 levels overflows the stack instead.
      expect(p99(http.map((r) => r.ms))).toBeLessThan(1_000);
      await expectLegitUnharmed('deep JSON', abused);
    } finally {
      raw.close();
    }
  });

  it('keeps serving while 4,000 connections sit idle, and closes every one of them within its idle timeout', async () => {
    interface Held {
      openedMs: number;
      closedMs: number;
      /** The first bytes the server sent. */
      answer: string;
      readonly socket: Socket;
    }
    const hold = (port: number, send?: string): Promise<Held> =>
      new Promise((resolve) => {
        const socket = connect(port, '127.0.0.1');
        const held: Held = { openedMs: 0, closedMs: 0, answer: '', socket };
        socket.on('error', () => {});
        socket.on('data', (d: Buffer) => void (held.answer.length < 512 && (held.answer += d.toString('latin1'))));
        socket.on('close', () => (held.closedMs = Date.now()));
        socket.once('connect', () => {
          held.openedMs = Date.now();
          if (send) socket.write(send);
          resolve(held);
        });
      });
    const inBatches = async <T>(count: number, open: () => Promise<T>) => {
      const out: T[] = [];
      for (let i = 0; i < count; i += 250) out.push(...(await Promise.all(Array.from({ length: Math.min(250, count - i) }, open))));
      return out;
    };
    const openedAt = Date.now();
    // gRPC: 1,500 TCP connections that never send the HTTP/2 preface, 500 HTTP/2 connections that never open a stream.
    const grpcSilent = await inBatches(1_500, () => hold(grpcPort));
    const h2Idle = await inBatches(500, () => connectRawH2(grpcPort));
    // HTTP: 1,500 connections that never send a byte, 400 that stop half-way through their headers (slowloris),
    // 100 that finished a request and idle on keep-alive.
    const httpSilent = await inBatches(1_500, () => hold(httpPort));
    const slowloris = await inBatches(400, () =>
      hold(httpPort, `GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${system.otherApiKey}\r\n`),
    );
    const keptAlive = await inBatches(100, () =>
      hold(httpPort, `GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${system.otherApiKey}\r\n\r\n`),
    );
    const openMs = Date.now() - openedAt;
    const openNow = () =>
      [...grpcSilent, ...httpSilent, ...slowloris, ...keptAlive].filter((h) => h.closedMs === 0).length + h2Idle.filter((c) => !c.closed()).length;
    const heldDuringLoad = openNow();
    const abused = await whileAbused(async () => {});
    const heldAfterLoad = openNow();
    // Every one is closed by the server once idle for IDLE_MS (the HTTP server looks every second).
    await waitFor('admission to close every idle connection', () => (openNow() === 0 ? true : undefined), IDLE_MS + 10_000).catch(() => undefined);
    const livedOf = (held: Held[]) => Math.max(...held.map((h) => (h.closedMs || Date.now()) - h.openedMs));
    const lived = { grpcSilent: livedOf(grpcSilent), httpSilent: livedOf(httpSilent), slowloris: livedOf(slowloris), keptAlive: livedOf(keptAlive) };
    const longest = Math.max(...Object.values(lived));
    try {
      console.log(
        `idle connections: 4,000 opened in ${(openMs / 1000).toFixed(1)} s (2,000 gRPC: 1,500 silent TCP + 500 HTTP/2 without streams; 2,000 HTTP: 1,500 silent + 400 slowloris + 100 keep-alive), ` +
          `${heldAfterLoad} still held after ${LOAD_MS / 1000} s of load, ${openNow()} open after admission's idle timeouts, the longest lived ${Object.entries(
            lived,
          )
            .map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`)
            .join(', ')} (idle timeout ${IDLE_MS / 1000} s); ` +
          `${legitFigures(abused)} (${(abused.rssGrowth / heldDuringLoad / 1024).toFixed(1)} KB per connection)`,
      );
      expect(heldDuringLoad).toBe(4_000);
      expect(openNow()).toBe(0);
      // grpc-js checks an idle connection when its timer fires and, finding it idle a hair less than
      // the timeout (its timer runs on the event loop's clock, its check on the wall clock), waits a
      // whole timeout more: a busy server closes some at up to twice the idle timeout.
      expect(longest).toBeLessThan(2 * IDLE_MS + 4_000);
      // The slowloris connections got the OpenAI-shaped 408 a client can read, not a silent close.
      expect(slowloris.map((h) => /^HTTP\/1\.1 (\d+)/.exec(h.answer)?.[1])).toEqual(slowloris.map(() => '408'));
      expect(errorOf(slowloris[0]!.answer)).toMatchObject({ code: 'request_timeout' });
      await expectLegitUnharmed('idle connections', abused);
    } finally {
      for (const h of [...grpcSilent, ...httpSilent, ...slowloris, ...keptAlive]) h.socket.destroy();
      for (const c of h2Idle) c.close();
    }
  });

  it('survives rapid stream resets and HTTP calls dropped as soon as sent: none is admitted to run for nobody, any admitted ends once', async () => {
    const sinceMs = Date.now();
    let reset = 0;
    let goaways = 0;
    let dropped = 0;
    const chat = JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'tell me a long story' }], max_tokens: 4_096 });
    const dropHttp = () =>
      new Promise<void>((resolve) => {
        const socket = connect(httpPort, '127.0.0.1');
        socket.on('error', () => {});
        socket.on('close', () => resolve());
        socket.once('connect', () =>
          socket.write(`${postHead({ 'content-length': String(Buffer.byteLength(chat)), 'x-switchyard-feature': 'reset-http' })}${chat}`, () =>
            socket.destroy(),
          ),
        );
      });
    const abused = await whileAbused(async (stop) => {
      await Promise.all([
        // Two HTTP/2 connections, each opening and at once resetting Generate streams of 4,096 tokens,
        // 25 per write every 100 ms (500 a second between them); a connection the server sends away is replaced.
        ...[0, 1].map(async () => {
          let h2: RawH2 = await connectRawH2(grpcPort);
          while (!stop.aborted) {
            if (h2.closed() || h2.goaway() !== undefined) {
              goaways++;
              h2.close();
              h2 = await connectRawH2(grpcPort);
            }
            const started = Date.now();
            for (let i = 0; i < 25; i++) h2.open(generateHeaders(), generateFrame(4_096, Tier.TIER_UNSPECIFIED, 'reset-grpc'), true);
            reset += 25;
            await h2.drained();
            await sleep(Math.max(0, started + 100 - Date.now()));
          }
          h2.close();
        }),
        // The same over HTTP/1.1: a chat completion of 4,096 tokens, the connection closed as soon as it is sent, 40 a second.
        repeatUntil(stop, 2, 40, () => dropHttp().then(() => void dropped++)),
      ]);
    });
    const ended = await globexEnded(sinceMs);
    const [grpcAdmitted, httpAdmitted] = [ended.admittedWith('reset-grpc'), ended.admittedWith('reset-http')];
    console.log(
      `rapid reset: ${reset} Generate streams of 4,096 tokens reset as soon as opened (${goaways} connections sent away by the server and replaced), ${grpcAdmitted} admitted; ` +
        `${dropped} HTTP calls dropped as soon as sent, ${httpAdmitted} admitted; ${ended.endedOnce} of ${ended.admitted} ended once (${tally(ended.outcomes)}); ${legitFigures(abused)}`,
    );
    expect(ended.endedOnce).toBe(ended.admitted);
    // A stream reset in the same read as its request is never handled (before the fix, 22% were
    // admitted); one whose reset came later, like an HTTP call whose caller left while it ran, is
    // cancelled downstream (before the fix 90% of dropped calls were admitted and none cancelled:
    // each ran to its end or was shed), unless the simulated GPU, at full speed here, finished first.
    expect(grpcAdmitted).toBeLessThan(reset * 0.01);
    expect(ended.outcomes.filter((o) => o !== 'cancelled' && o !== 'completed')).toEqual([]);
    expect(ended.outcomes.filter((o) => o === 'completed').length).toBeLessThanOrEqual(Math.max(2, ended.admitted * 0.1));
    await expectLegitUnharmed('rapid reset', abused);
  });

  it('resets streams whose reader never drains within the stall bound, with and without a deadline, and their requests end once', async () => {
    const sinceMs = Date.now();
    const readers: RawH2[] = [];
    const streams: Array<{ h2: RawH2; id: number; openedMs: number }> = [];
    // 4 connections x 50 Generate streams of 32 tokens (about 300 bytes of messages each) whose
    // reader opens a window of 128 bytes and never a byte more; half carry a 1 s deadline. In the
    // internal tier, so that 200 generations wait behind acme's realtime calls: this scenario is
    // about the streams, not about capacity. acme's load runs once they were all generated, while
    // admission holds them unread.
    for (let c = 0; c < 4; c++) {
      const h2 = await connectRawH2(grpcPort, { initialWindowSize: 128 });
      readers.push(h2);
      for (let i = 0; i < 50; i++) {
        const deadline: Array<[string, string]> = i % 2 ? [['grpc-timeout', '1S']] : [];
        streams.push({ h2, id: h2.open(generateHeaders(deadline), generateFrame(32, Tier.TIER_INTERNAL)), openedMs: Date.now() });
      }
    }
    // Ready once every stream filled its window (or ended before it could) and every request behind them ended.
    await waitFor(
      'every stream to fill its window',
      () => (streams.every((s) => (s.h2.received.get(s.id) ?? 0) >= 128 || s.h2.ended.has(s.id)) ? true : undefined),
      15_000,
    );
    await waitFor(
      "globex's requests to end",
      async () => {
        const o = await globexOutcomes(sinceMs);
        return [...o.admitted.keys()].every((id) => o.outcomes.has(id)) ? true : undefined;
      },
      15_000,
    );
    const abused = await whileAbused(async () => {});
    const heldAfterLoad = streams.filter((s) => !s.h2.settledAtMs.has(s.id)).length;
    await waitFor(
      'admission to end or reset every stream',
      () => (streams.every((s) => s.h2.settledAtMs.has(s.id)) ? true : undefined),
      STALL_MS + 10_000,
    ).catch(() => undefined);
    const reset = streams.filter((s) => s.h2.resetByServer.get(s.id) === H2_CANCEL).length;
    const endedWhole = streams.filter((s) => s.h2.ended.has(s.id)).length;
    const lived = Math.max(...streams.map((s) => (s.h2.settledAtMs.get(s.id) ?? Date.now()) - s.openedMs));
    const delivered = Math.max(...readers.map((h2) => [...h2.received.values()].reduce((a, b) => a + b, 0)));
    try {
      const ended = await globexEnded(sinceMs);
      console.log(
        `slow reader: 200 internal-tier Generate streams (4 connections, a 128-byte window never opened further, half with a 1 s deadline): ` +
          `${heldAfterLoad} still held unread after ${LOAD_MS / 1000} s of load, ${reset} reset by admission once their output waited ${STALL_MS / 1000} s, ${endedWhole} ended, ${streams.length - reset - endedWhole} neither, the longest open ${(lived / 1000).toFixed(1)} s; ` +
          `at most ${delivered} bytes delivered per connection; ${ended.admitted} admitted, ${ended.endedOnce} ended once (${tally(ended.outcomes)}); ${legitFigures(abused)}`,
      );
      // No answer fits 128 bytes, so a stream can only be reset, once its output waited STALL_MS,
      // deadline or not: grpc-js's own DEADLINE_EXCEEDED status waits behind the unread messages.
      // One with a deadline may also have ended DEADLINE_EXCEEDED before a byte of it was sent.
      expect(streams.filter((s, i) => i % 2 === 0 && s.h2.resetByServer.get(s.id) !== H2_CANCEL)).toEqual([]);
      expect(streams.filter((s) => !s.h2.settledAtMs.has(s.id))).toEqual([]);
      expect(lived).toBeLessThan(STALL_MS + 10_000);
      expect(ended.endedOnce).toBe(ended.admitted);
      await expectLegitUnharmed('slow reader', abused);
    } finally {
      for (const h2 of readers) h2.close();
    }
  });

  it('stays within its memory bound, and every admitted request ended exactly once and is billed once', async () => {
    expect(await call(completeRequest({ prompt: 'still serving after all that' }))).toMatchObject({ ok: true });
    const invariants = await checkRequestInvariants({
      nc: system.nc,
      sql: system.sql,
      natsUrl: system.servers.nats.url,
      databaseUrl: system.servers.postgres.url,
      sinceMs: startedMs,
    });
    const admitted = (await admittedRequests(system.nc)).length;
    console.log(
      `abuse invariants: ${invariants.admitted} admitted (${admitted} on REQUESTS), ${invariants.notEndedOnce.length} not ended exactly once, ` +
        `${invariants.completed} completed, ${invariants.billedTwice.length} billed twice, ${invariants.unbilled.length} unbilled, reconcile ${invariants.reconcileOk ? 'ok' : 'FAILED'}; ` +
        `admission peak RSS ${mb(peakRss)} MB, +${mb(peakRss - baselineRss)} MB over warm-up (bound +${mb(MEMORY_BOUND_BYTES)} MB)`,
    );
    expect(invariants).toMatchObject({ notEndedOnce: [], billedTwice: [], unbilled: [], reconcileOk: true });
    expect(peakRss - baselineRss).toBeLessThan(MEMORY_BOUND_BYTES);
  }, 90_000);
});

import { randomBytes } from 'node:crypto';
import { connectBus, jetstream, openBucket, provisionStreams, publishEvent, type JetStreamClient, type KV, type NatsConnection } from '@switchyard/bus';
import type { EndpointSpec, PoolSpec } from '@switchyard/config';
import {
  batchFormed,
  OUTCOMES,
  Outcome,
  TokenChunk,
  buckets,
  decodeEvent,
  durables,
  heartbeatKey,
  makeEvent,
  parseHeartbeat,
  streams,
  subjects,
  type Event,
  type RequestSpec,
} from '@switchyard/contracts';
import { Registry, createLogger } from '@switchyard/telemetry';
import { createAdapterMetrics } from './metrics.js';
import {
  startFakeOpenAiUpstream,
  startNats,
  testPool,
  testRequestSpec,
  waitFor,
  type FakeUpstream,
  type FakeUpstreamMode,
  type TestServer,
} from '@switchyard/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEngineAdapter, type EngineAdapter } from './service.js';

let nats: TestServer;
let nc: NatsConnection;
let js: JetStreamClient;
let kv: KV;
const running: Array<{ stop(): Promise<void> }> = [];
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'adapter-test' });
  js = jetstream(nc);
  await provisionStreams(await js.jetstreamManager(), Object.values(streams));
  kv = await openBucket(nc, buckets.pools, { ttl: 10_000 });
});
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});
afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

/** A fresh tenant, an `openai-compatible` pool pointed at a fake upstream answering `mode`, and an adapter serving it. */
async function scene(mode: FakeUpstreamMode, endpoint: Partial<EndpointSpec> = {}, registry = new Registry()) {
  const upstream: FakeUpstream = await startFakeOpenAiUpstream(mode);
  running.push({ stop: () => upstream.close() });
  const pool: PoolSpec = testPool({
    id: unique('vllm'),
    kind: 'openai-compatible',
    endpoint: {
      baseUrl: upstream.baseUrl,
      apiKeyEnv: 'FAKE_ENGINE_KEY',
      upstreamModel: 'meta-llama/Llama-3.1-8B-Instruct',
      concurrency: 4,
      firstTokenTimeoutMs: 1_000,
      idleTimeoutMs: 1_000,
      ...endpoint,
    },
  });
  const adapter: EngineAdapter = createEngineAdapter({
    nc,
    js,
    poolsKv: kv,
    pools: [pool],
    logger: createLogger({ service: 'engine-adapter', level: 'silent' }),
    instanceId: unique('i'),
    apiKeys: { FAKE_ENGINE_KEY: 'sk-test-secret' },
    countTokens: (text) => text.split(/(?=[ ,.])/).filter(Boolean).length,
    heartbeatMs: 100,
    metrics: createAdapterMetrics(registry),
  });
  await adapter.start();
  running.push(adapter);
  return { upstream, pool, tenant: unique('t') };
}

async function send(pool: string, request: RequestSpec, ...more: RequestSpec[]) {
  await publishEvent(
    js,
    subjects.batches(pool),
    makeEvent(
      { id: unique('batch'), tenant: request.tenant, requestId: request.requestId, nowMs: Date.now() },
      { $case: 'batchFormed', batchFormed: batchFormed({ batchId: unique('b'), pool, requests: [request, ...more] }) },
    ),
  );
}

/** Chunks the caller's inbox receives. */
function inbox(request: RequestSpec) {
  const chunks: TokenChunk[] = [];
  const sub = nc.subscribe(request.inbox, { callback: (_e, m) => void chunks.push(TokenChunk.decode(m.data)) });
  running.push({ stop: async () => sub.unsubscribe() });
  return chunks;
}

async function stored(stream: string, subject: string): Promise<Event[]> {
  const info = await (await js.jetstreamManager()).streams.info(stream, { subjects_filter: subject });
  const count = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (count === 0) return [];
  const consumer = await js.consumers.get(stream, { filter_subjects: subject });
  const events: Event[] = [];
  for await (const m of await consumer.fetch({ max_messages: count, expires: 2_000 })) events.push(decodeEvent(m.data));
  return events;
}

/** What LIFECYCLE and USAGE keep for a tenant once its request ended and its batch was acked (claimed once, not redelivered). */
async function settled(tenant: string, pool: string) {
  const jsm = await js.jetstreamManager();
  await waitFor('the batch acked', async () => {
    const c = await jsm.consumers.info(streams.BATCHES.name, durables.workers(pool));
    return c.num_ack_pending === 0 && c.num_pending === 0 && c.num_redelivered === 0 ? true : undefined;
  });
  const terminals = (await Promise.all(OUTCOMES.map((o) => stored(streams.LIFECYCLE.name, subjects.requestTerminated(o, tenant)))))
    .flat()
    .flatMap((e) => (e.payload?.$case === 'requestTerminated' ? [e.payload.requestTerminated] : []));
  const usage = (await stored(streams.USAGE.name, subjects.usageRecorded(tenant))).flatMap((e) =>
    e.payload?.$case === 'usageRecorded' ? [e.payload.usageRecorded] : [],
  );
  const replacements = (await stored(streams.REQUESTS.name, `requests.replace.*.${tenant}`)).flatMap((e) =>
    e.payload?.$case === 'replacementRequested' ? [e.payload.replacementRequested] : [],
  );
  return { terminals, usage, replacements };
}

/** Waits until the tenant's requests ended or were handed back to the scheduler to re-place, `n` in all. */
const waitOutcomes = (tenant: string, pool: string, n = 1) =>
  waitFor(
    `${n} outcome(s)`,
    async () => {
      const s = await settled(tenant, pool);
      return s.terminals.length + s.replacements.length >= n ? s : undefined;
    },
    15_000,
  );
const waitTerminal = waitOutcomes;

describe('engine adapter against an OpenAI-compatible upstream', () => {
  it("streams the upstream's tokens in order and completes with the upstream's usage, sending the mapped model and the key", async () => {
    const { upstream, pool, tenant } = await scene({ kind: 'stream', tokens: ['The', ' sky', ' is', ' blue'], usage: { prompt: 21, completion: 4 } });
    const request = testRequestSpec(unique('r'), { tenant, prompt: 'What colour is the sky?', maxTokens: 16 });
    const chunks = inbox(request);
    await send(pool.id, request);
    const { terminals, usage } = await waitTerminal(tenant, pool.id);
    expect(terminals).toHaveLength(1);
    expect(terminals[0]).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, chunkCount: 4, usage: { inputTokens: 21, outputTokens: 4 } });
    expect(chunks.map((c) => [c.seq, c.attempt, c.text])).toEqual([
      [0, 1, 'The'],
      [1, 1, ' sky'],
      [2, 1, ' is'],
      [3, 1, ' blue'],
    ]);
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, usage: { inputTokens: 21, outputTokens: 4 } });
    expect(upstream.calls[0]).toMatchObject({
      authorization: 'Bearer sk-test-secret',
      body: { model: 'meta-llama/Llama-3.1-8B-Instruct', stream: true, stream_options: { include_usage: true }, max_tokens: 16 },
    });
  });

  it('counts the output with the tokenizer when the upstream reports no usage', async () => {
    const { pool, tenant } = await scene({ kind: 'stream', tokens: ['a', ' b', ' c'], usage: false });
    const request = testRequestSpec(unique('r'), { tenant, promptTokens: 9 });
    await send(pool.id, request);
    const { terminals } = await waitTerminal(tenant, pool.id);
    expect(terminals[0]).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, usage: { inputTokens: 9, outputTokens: 3 } });
  });

  it('heartbeats the concurrency limit as free slots', async () => {
    const { pool } = await scene({ kind: 'hang' });
    const beat = await waitFor('a heartbeat', async () => {
      const keys = await kv.keys(`${heartbeatKey(pool.id, '*')}`);
      for await (const k of keys) return parseHeartbeat((await kv.get(k))!.value);
      return undefined;
    });
    expect(beat).toMatchObject({ pool: pool.id, freeSlots: 4, running: 0 });
  });
});

describe('the concurrency limit', () => {
  it('holds a batch bigger than the limit: its requests go upstream one after the other, each ending once', async () => {
    const { pool, tenant, upstream } = await scene({ kind: 'hang' }, { concurrency: 1, firstTokenTimeoutMs: 500 });
    // Already re-placed once, so each fails here instead of moving on.
    const requests = [0, 1, 2].map(() => testRequestSpec(unique('r'), { tenant, replacedFrom: 'elsewhere' }));
    await send(pool.id, requests[0]!, requests[1]!, requests[2]!);
    const { terminals } = await waitOutcomes(tenant, pool.id, 3);
    expect(new Set(terminals.map((t) => t.requestId))).toEqual(new Set(requests.map((r) => r.requestId)));
    expect(terminals.every((t) => t.outcome === Outcome.OUTCOME_FAILED && /no token within 500 ms/.test(t.reason))).toBe(true);
    expect(upstream.calls).toHaveLength(3);
    expect(upstream.peakConcurrent()).toBe(1);
  });
});

describe("a provider's rate limits", () => {
  it('are capacity: past requestsPerMinute the pool offers no slot and the next batch stays queued for another worker', async () => {
    const { pool, tenant, upstream } = await scene({ kind: 'stream', tokens: ['ok'] }, { requestsPerMinute: 2 });
    for (let i = 0; i < 2; i++) await send(pool.id, testRequestSpec(unique('r'), { tenant }));
    await waitOutcomes(tenant, pool.id, 2);
    const third = testRequestSpec(unique('r'), { tenant });
    await send(pool.id, third);
    const jsm = await js.jetstreamManager();
    await waitFor('the third batch left in the queue and no slot offered', async () => {
      const c = await jsm.consumers.info(streams.BATCHES.name, durables.workers(pool.id));
      let free = -1;
      for await (const k of await kv.keys(heartbeatKey(pool.id, '*'))) free = parseHeartbeat((await kv.get(k))!.value)?.freeSlots ?? -1;
      return c.num_pending === 1 && free === 0 ? true : undefined;
    });
    expect(upstream.calls).toHaveLength(2);
  });
});

describe('a caller who gives up', () => {
  it('has the upstream call aborted and the request ends CANCELLED once, billed nothing before a token', async () => {
    const { pool, tenant, upstream } = await scene({ kind: 'hang' }, { firstTokenTimeoutMs: 30_000 });
    const request = testRequestSpec(unique('r'), { tenant });
    await send(pool.id, request);
    await waitFor('the call upstream', () => (upstream.calls.length > 0 ? true : undefined));
    nc.publish(subjects.cancelRequest(request.requestId));
    const { terminals, usage } = await waitTerminal(tenant, pool.id);
    expect(terminals).toHaveLength(1);
    expect(terminals[0]).toMatchObject({ outcome: Outcome.OUTCOME_CANCELLED, reason: 'cancelled by the caller', chunkCount: 0 });
    expect(usage).toEqual([]);
  });
});

describe('a failure before the first token', () => {
  const cases: Array<[string, FakeUpstreamMode, RegExp]> = [
    ['429', { kind: 'status', status: 429, retryAfter: '3' }, /rate-limited the request \(HTTP 429, retry-after 3\) before its first token/],
    ['500', { kind: 'status', status: 500 }, /answered HTTP 500 before its first token/],
    ['a timeout', { kind: 'hang' }, /sent no token within 1000 ms/],
    ['a reset', { kind: 'reset' }, /connection failed before its first token/],
  ];
  it.each(cases)('%s: hands the request to the scheduler to place elsewhere, once, billing nothing', async (_name, mode, reason) => {
    const { pool, tenant } = await scene(mode);
    const request = testRequestSpec(unique('r'), { tenant, promptTokens: 12 });
    const chunks = inbox(request);
    await send(pool.id, request);
    const { terminals, usage, replacements } = await waitOutcomes(tenant, pool.id);
    expect(terminals).toEqual([]);
    expect(replacements).toHaveLength(1);
    expect(replacements[0]).toMatchObject({ fromPool: pool.id, request: { requestId: request.requestId, replacedFrom: '' } });
    expect(replacements[0]!.reason).toMatch(reason);
    expect(chunks).toEqual([]);
    expect(usage).toEqual([]);
  });

  it('fails explicitly when the request was re-placed before, and for a request the upstream refuses as bad', async () => {
    const { pool, tenant, upstream } = await scene({ kind: 'status', status: 500 });
    const again = testRequestSpec(unique('r'), { tenant, replacedFrom: 'vllm-other' });
    await send(pool.id, again);
    expect((await waitOutcomes(tenant, pool.id)).terminals[0]).toMatchObject({ outcome: Outcome.OUTCOME_FAILED, reason: expect.stringMatching(/HTTP 500/) });
    upstream.answer({ kind: 'status', status: 400, body: '{"error":{"message":"prompt too long"}}' });
    const bad = testRequestSpec(unique('r'), { tenant });
    await send(pool.id, bad);
    const { terminals, replacements } = await waitOutcomes(tenant, pool.id, 2);
    expect(replacements).toEqual([]);
    expect(terminals.find((t) => t.requestId === bad.requestId)).toMatchObject({
      outcome: Outcome.OUTCOME_FAILED,
      reason: expect.stringMatching(/HTTP 400.*prompt too long/),
    });
  });
});

describe('the circuit breaker', () => {
  it('opens after three failures: the pool leaves placement, queued work is re-placed without calling upstream, and a good probe brings it back', async () => {
    const registry = new Registry();
    const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.pool === pool.id)?.value;
    const { pool, tenant, upstream } = await scene({ kind: 'status', status: 503 }, {}, registry);
    const beat = async () => {
      for await (const k of await kv.keys(heartbeatKey(pool.id, '*'))) return parseHeartbeat((await kv.get(k))!.value);
      return undefined;
    };
    for (let i = 0; i < 3; i++) await send(pool.id, testRequestSpec(unique('r'), { tenant }));
    await waitOutcomes(tenant, pool.id, 3);
    await waitFor('a draining heartbeat', async () => ((await beat())?.draining ? true : undefined));
    expect(upstream.calls).toHaveLength(3);
    // What an operator sees: the breaker open, three HTTP failures, three calls handed back.
    expect(await metric('switchyard_adapter_circuit_open')).toBe(1);
    expect(await metric('switchyard_adapter_upstream_failures_total')).toBe(3);
    expect(await metric('switchyard_adapter_calls_total')).toBe(3);
    const queued = testRequestSpec(unique('r'), { tenant });
    await send(pool.id, queued);
    const { replacements } = await waitOutcomes(tenant, pool.id, 4);
    expect(replacements.find((r) => r.request?.requestId === queued.requestId)?.reason).toMatch(/out of placement: circuit open since .*HTTP 503/);
    expect(upstream.calls).toHaveLength(3);
    upstream.answer({ kind: 'stream', tokens: ['back'] });
    await waitFor('the probe closes the breaker', async () => ((await beat())?.draining === false ? true : undefined), 10_000);
    expect(await metric('switchyard_adapter_circuit_open')).toBe(0);
    const after = testRequestSpec(unique('r'), { tenant });
    await send(pool.id, after);
    await waitFor('served again', async () => ((await settled(tenant, pool.id)).terminals.some((t) => t.requestId === after.requestId) ? true : undefined));
  });
});

describe('a failure after the first token ends in one explicit outcome, billed nothing', () => {
  const cases: Array<[string, FakeUpstreamMode, RegExp, number]> = [
    [
      'a stream that goes silent mid-way',
      { kind: 'stall', tokens: ['one', ' two', ' three'], afterTokens: 1 },
      /went silent for 1000 ms \(timed out after 1 chunks/,
      1,
    ],
    ['a stream cut mid-way', { kind: 'cut', tokens: ['one', ' two', ' three', ' four'], afterTokens: 2 }, /stream cut after 2 chunks/, 2],
  ];
  it.each(cases)('%s', async (_name, mode, reason, chunksBefore) => {
    const { pool, tenant } = await scene(mode);
    const request = testRequestSpec(unique('r'), { tenant, promptTokens: 12 });
    const chunks = inbox(request);
    await send(pool.id, request);
    const { terminals, usage } = await waitTerminal(tenant, pool.id);
    expect(terminals).toHaveLength(1);
    expect(terminals[0]!.outcome).toBe(Outcome.OUTCOME_FAILED);
    expect(terminals[0]!.reason).toMatch(reason);
    expect(terminals[0]!.usage).toBeUndefined();
    expect(terminals[0]!.chunkCount).toBe(chunksBefore);
    expect(chunks).toHaveLength(chunksBefore);
    // Nothing billable: at most the cut attempt's own FAILED usage, which metering bills nothing.
    expect(usage.filter((u) => u.outcome !== Outcome.OUTCOME_FAILED)).toEqual([]);
    expect(usage).toHaveLength(chunksBefore > 0 ? 1 : 0);
    if (chunksBefore > 0) expect(usage[0]!.usage).toMatchObject({ inputTokens: 12, outputTokens: chunksBefore });
  });
});

import { TokenChunks, parseHeartbeat, streams, subjects, type WorkerHeartbeat } from '@switchyard/contracts';
import { createPerfModel, loadProfiles } from '@switchyard/perf-model';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Outcome,
  fault,
  onePool,
  publishBatch,
  requestSpec,
  startHarness,
  startSimulator,
  stored,
  testPool,
  unique,
  usagesOf,
  watch,
  type Harness,
  type Simulator,
} from './harness.fixture.js';

const profiles = await loadProfiles();
const h100 = profiles['h100-80gb'];
const perf = createPerfModel(h100.rows, h100.meta, 'llama-3.1-8b');
const table = (phase: string, batch: number, context: number, newTokens?: number) =>
  h100.rows.find(
    (r) =>
      r.model === 'llama-3.1-8b' && r.phase === phase && r.batch === batch && r.context === context && (newTokens === undefined || r.newTokens === newTokens),
  )!.ms;
/** Batch-64 decode step from the table, linear across its measured context rows 1,024 and 2,048. */
const decode64 = (ctx: number) => table('decode', 64, 1024) + ((ctx - 1024) / 1024) * (table('decode', 64, 2048) - table('decode', 64, 1024));
const busyMs = (steps: Simulator['steps']) => steps.reduce((sum, s) => sum + s.durationMs, 0);
const tokensPerS = (steps: Simulator['steps']) => (steps.reduce((n, s) => n + s.tokens.length, 0) / busyMs(steps)) * 1000;

let h: Harness;
beforeAll(async () => (h = await startHarness()));
afterAll(async () => h?.close());

describe('a worker fed 64 concurrent 8B requests (1,024 + 256 tokens) on an H100, at speed 4', () => {
  it('reports per-step times, usage and heartbeats that match the profile, paced at a quarter of simulated time', async () => {
    const tenant = unique('t');
    const pool = testPool();
    const beats: WorkerHeartbeat[] = [];
    const kvWatch = await h.kv.watch({ key: `${pool.id}.>` });
    void (async () => {
      for await (const e of kvWatch) if (e.operation === 'PUT') beats.push(parseHeartbeat(e.value)!);
    })();
    const sim = await startSimulator(h, [pool], { speed: 4, heartbeatMs: 100 });
    const seen = watch(h.nc, tenant);
    const requests = Array.from({ length: 64 }, (_, i) => requestSpec(tenant, i, { promptTokens: 1024, maxTokens: 256 }));
    const startedAt = Date.now();
    await publishBatch(h.js, pool.id, requests);
    const terminals = await Promise.all(requests.map((r) => seen.terminal(r.requestId, 30_000)));
    const realMs = Date.now() - startedAt;
    await waitFor('an idle heartbeat', () => (beats.at(-1)?.running === 0 ? true : undefined));
    kvWatch.stop();
    seen.close();
    await sim.sim.stop();

    expect(terminals.every((t) => t.outcome === Outcome.OUTCOME_COMPLETED && t.attempt === 1 && t.chunkCount === 1 + Math.ceil(255 / 4))).toBe(true);
    // Steps ran back to back in simulated time: pacing in real time left no gaps.
    const { steps } = sim;
    expect(steps.at(-1)!.endMs - steps[0]!.startMs).toBeCloseTo(busyMs(steps), 6);
    // Full decode steps take what the decode table says for batch 64 at their context.
    const full = steps.filter((s) => s.decodeBatch === 64 && s.prefillTokens === 0);
    expect(full.length).toBeGreaterThan(200);
    for (const s of full) expect(s.durationMs / decode64(s.decodeContext)).toBeCloseTo(1, 9);
    // Throughput: the table's back of the envelope (prefill in 2,048-token mixed steps beside ~32 decodes, then 256 decode steps).
    const expectedMs = 32 * table('mixed', 32, 1024, 32 + 2048) + 256 * decode64(1024 + 128);
    expect(tokensPerS(steps) / ((64 * 256 * 1000) / expectedMs)).toBeGreaterThan(0.95);
    expect(tokensPerS(steps) / ((64 * 256 * 1000) / expectedMs)).toBeLessThan(1.05);
    // Speed 4: real time is a quarter of simulated time (more only if this machine falls behind).
    expect(realMs).toBeGreaterThan((busyMs(steps) / 4) * 0.9);
    expect(realMs).toBeLessThan((busyMs(steps) / 4) * 2.5);

    const usage = usagesOf(await stored(h.js, streams.USAGE.name, subjects.usageRecorded(tenant)));
    expect(usage).toHaveLength(64);
    expect(usage.every((u) => u.usage!.inputTokens === 1024 && u.usage!.outputTokens === 256 && u.pool === pool.id)).toBe(true);
    expect(usage.reduce((sum, u) => sum + u.gpuMs, 0) / busyMs(steps)).toBeCloseTo(1, 6);
    const engineTtft = Math.min(...usage.map((u) => u.ttftMs));
    expect(engineTtft).toBeGreaterThanOrEqual(table('prefill', 1, 2048));
    expect(Math.max(...usage.map((u) => u.totalMs))).toBeGreaterThanOrEqual(busyMs(steps));

    // Heartbeats carried the live load: a full batch, KV in use, and a step time the table gives for it.
    const atFull = beats.filter((b) => b.running === 64 && b.waiting === 0);
    expect(atFull.length).toBeGreaterThan(0);
    expect(atFull.every((b) => b.kvUsed > 0 && b.freeSlots === 0)).toBe(true);
    expect(atFull.some((b) => b.stepMs > table('decode', 64, 1024) * 0.99 && b.stepMs < decode64(1024 + 256) * 1.01)).toBe(true);
    expect(beats.at(-1)).toMatchObject({
      running: 0,
      waiting: 0,
      kvUsed: 0,
      freeSlots: 64,
      freeKvTokens: Math.floor(perf.kvCapacityTokens() / 16) * 16,
      draining: false,
    });
    expect(atFull.every((b) => b.freeKvTokens! < perf.kvCapacityTokens() - 64 * 1024)).toBe(true);
    expect(beats.at(-1)!.ttftMs).toBeGreaterThan(table('prefill', 1, 2048));
  });
});

describe('batching at full speed (no sleeping)', () => {
  it('raises simulated tokens/s more than 20x from one request to 64 on 8B/H100', async () => {
    const { tenant, pool, sim, seen } = await onePool(h);
    const one = [requestSpec(tenant, 0, { promptTokens: 1024, maxTokens: 256 })];
    await publishBatch(h.js, pool.id, one);
    await seen.terminal(one[0]!.requestId);
    const alone = sim.steps.splice(0);
    const many = Array.from({ length: 64 }, (_, i) => requestSpec(tenant, i + 1, { promptTokens: 1024, maxTokens: 256 }));
    await publishBatch(h.js, pool.id, many);
    await Promise.all(many.map((r) => seen.terminal(r.requestId)));
    seen.close();
    await sim.sim.stop();
    expect(alone.map((s) => s.decodeBatch).every((b) => b <= 1)).toBe(true);
    expect(tokensPerS(sim.steps) / tokensPerS(alone)).toBeGreaterThan(20);
    // Alone: one prefill, then batch-1 decode steps as the model gives them.
    expect(alone[0]!.durationMs).toBeCloseTo(perf.prefillMs(1024), 9);
    expect(alone[1]!.durationMs).toBeCloseTo(perf.decodeMs(1, 1024), 9);
  });
});

describe('token streaming', () => {
  it("sends the first token alone, then a step's chunks for one relay together, in order and complete", async () => {
    const { tenant, pool, sim, seen } = await onePool(h);
    const relayInbox = `_SY.relay.${unique('relay')}`;
    const messages: Array<{ requestId: string; seq: number; text: string }[]> = [];
    const sub = h.nc.subscribe(relayInbox, { callback: (_e, msg) => void messages.push(TokenChunks.decode(msg.data).chunks) });
    const requests = Array.from({ length: 8 }, (_, i) => requestSpec(tenant, i, { promptTokens: 64, maxTokens: 9, relayInbox }));
    await publishBatch(h.js, pool.id, requests);
    const terminals = await Promise.all(requests.map((r) => seen.terminal(r.requestId)));
    sub.unsubscribe();
    seen.close();
    await sim.sim.stop();

    // Nothing went to the per-request inboxes; 1 + 4 + 4 tokens make 3 chunks a request.
    expect(requests.every((r) => seen.chunks(r.requestId).length === 0)).toBe(true);
    expect(terminals.every((t) => t.outcome === Outcome.OUTCOME_COMPLETED && t.chunkCount === 3)).toBe(true);
    const chunks = messages.flat();
    for (const r of requests) {
      const own = chunks.filter((c) => c.requestId === r.requestId);
      expect(own.map((c) => c.seq)).toEqual([0, 1, 2]);
      expect(own[0]!.text.length).toBeLessThan(own[1]!.text.length);
    }
    // The batch decodes in step: each message carries the chunks of many requests at once.
    expect(messages.length).toBeLessThan(chunks.length / 4);
  });
});

describe('stop sequences', () => {
  it('end the answer before the first one: the text sent stops there, the terminal says "stop", and usage counts the tokens generated', async () => {
    const { tenant, pool, sim, seen } = await onePool(h);
    const whole = requestSpec(tenant, 0, { maxTokens: 40, seed: 77 });
    await publishBatch(h.js, pool.id, [whole]);
    expect(await seen.terminal(whole.requestId)).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, finishReason: 'length' });
    const full = seen
      .chunks(whole.requestId)
      .map((c) => c.text)
      .join('');
    const stop = ` ${full.split(' ')[12]}`;
    const visible = full.slice(0, full.indexOf(stop));

    const stopped = requestSpec(tenant, 1, { maxTokens: 40, seed: 77, stop: ['never in this text', stop] });
    await publishBatch(h.js, pool.id, [stopped]);
    const terminal = await seen.terminal(stopped.requestId);
    await waitFor('every chunk', () => (seen.chunks(stopped.requestId).length === terminal.chunkCount ? true : undefined));
    seen.close();
    await sim.sim.stop();

    expect(
      seen
        .chunks(stopped.requestId)
        .map((c) => c.text)
        .join(''),
    ).toBe(visible);
    // The words before the sequence, and the token that completed it.
    const generated = visible.split(' ').length + 1;
    expect(terminal).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, finishReason: 'stop', usage: { outputTokens: generated } });
    const usage = usagesOf(await stored(h.js, streams.USAGE.name, subjects.usageRecorded(tenant))).find((u) => u.requestId === stopped.requestId);
    expect(usage?.usage?.outputTokens).toBe(generated);
  });
});

describe('work intake', () => {
  it('pulls only what it has room for and leaves the rest on the stream for other workers', async () => {
    const { tenant, pool, sim, seen } = await onePool(h, { slotsPerWorker: 2 }, { speed: 10 });
    const requests = Array.from({ length: 5 }, (_, i) => requestSpec(tenant, i, { maxTokens: 1_000 }));
    for (const r of requests) await publishBatch(h.js, pool.id, [r]);
    const jsm = await h.js.jetstreamManager();
    const info = await waitFor('two batches held', async () => {
      const c = await jsm.consumers.info(streams.BATCHES.name, `workers-${pool.id}`);
      return c.num_ack_pending === 2 ? c : undefined;
    });
    expect(info.num_pending).toBe(3);
    const terminals = await Promise.all(requests.map((r) => seen.terminal(r.requestId)));
    expect(terminals.every((t) => t.outcome === Outcome.OUTCOME_COMPLETED && t.attempt === 1)).toBe(true);
    expect(Math.max(...sim.steps.map((s) => s.decodeBatch + (s.prefillTokens > 0 ? 1 : 0)))).toBeLessThanOrEqual(2);
    const after = await waitFor('all acked', async () => {
      const c = await jsm.consumers.info(streams.BATCHES.name, `workers-${pool.id}`);
      return c.num_ack_pending === 0 ? c : undefined;
    });
    expect(after.num_pending).toBe(0);
    seen.close();
    await sim.sim.stop();
  });

  it('takes a batch bigger than its room whole (the excess waits in the engine) and then nothing more until there is room', async () => {
    const { tenant, pool, sim, seen } = await onePool(h, { slotsPerWorker: 2 }, { speed: 10 });
    const big = Array.from({ length: 3 }, (_, i) => requestSpec(tenant, i, { maxTokens: 1_000 }));
    const next = requestSpec(tenant, 3, { maxTokens: 1_000 });
    await publishBatch(h.js, pool.id, big);
    await publishBatch(h.js, pool.id, [next]);
    const jsm = await h.js.jetstreamManager();
    await waitFor('the big batch held, the next one left on the stream', async () => {
      const c = await jsm.consumers.info(streams.BATCHES.name, `workers-${pool.id}`);
      return c.num_ack_pending === 1 && c.num_pending === 1 ? c : undefined;
    });
    expect(await fault(h.nc, subjects.workerControl(pool.id), { kind: 'status' })).toMatchObject({ running: 2, waiting: 1 });
    const terminals = await Promise.all([...big, next].map((r) => seen.terminal(r.requestId)));
    expect(terminals.every((t) => t.outcome === Outcome.OUTCOME_COMPLETED && t.attempt === 1)).toBe(true);
    seen.close();
    await sim.sim.stop();
  });
});

describe('pools of real engines', () => {
  it('are left to the engine adapter: the simulator hosts no worker for them', async () => {
    const simulated = testPool();
    const engine = testPool({
      kind: 'openai-compatible',
      endpoint: { baseUrl: 'http://127.0.0.1:9/v1', concurrency: 4, firstTokenTimeoutMs: 1_000, idleTimeoutMs: 1_000 },
    });
    const { sim } = await startSimulator(h, [simulated, engine]);
    try {
      expect(sim.workers().map((w) => w.pool)).toEqual([simulated.id]);
    } finally {
      await sim.stop();
    }
  });
});

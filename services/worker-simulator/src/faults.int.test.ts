import { OUTCOMES, heartbeatKey, parseHeartbeat, streams, subjects } from '@switchyard/contracts';
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
  stored,
  terminalsOf,
  usagesOf,
  type Harness,
  type Simulator,
} from './harness.fixture.js';
import { tokenText } from './domain/text.js';

const profiles = await loadProfiles();
const perf = createPerfModel(profiles['h100-80gb'].rows, profiles['h100-80gb'].meta, 'llama-3.1-8b');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let h: Harness;
/**
 * A redelivery comes one ack wait after a worker stops; a running attempt extends its deadline
 * every third of it. Two seconds leave room for a loaded machine's event-loop stalls, and an
 * answer of this length runs well past it, so the extension is exercised.
 */
const ACK_WAIT_MS = 2_000;
const LONG_ANSWER = 4_000;

beforeAll(async () => (h = await startHarness()));
afterAll(async () => h?.close());

/** Exactly what LIFECYCLE and USAGE keep for a tenant, after de-duplication. */
async function recorded(tenant: string) {
  return {
    // One read per outcome: a stream filter must lie inside one of the stream's subjects.
    terminals: (await Promise.all(OUTCOMES.map((o) => stored(h.js, streams.LIFECYCLE.name, subjects.requestTerminated(o, tenant))))).flatMap(terminalsOf),
    usage: usagesOf(await stored(h.js, streams.USAGE.name, subjects.usageRecorded(tenant))),
  };
}
/** The worker of `sim` that is running something now. */
async function holder(sim: Simulator, pool: string): Promise<string> {
  const states = await Promise.all(sim.sim.workers().map((w) => fault(h.nc, subjects.workerControl(pool, w.id), { kind: 'status' })));
  return states.find((s) => s.running > 0)!.worker;
}

describe('injected crash', () => {
  it('drops the request unacked; JetStream redelivers it to the other worker and it ends once, completed', async () => {
    const { tenant, pool, sim, seen } = await onePool(h, { workers: 2, slotsPerWorker: 4 }, { speed: 10, ackWaitMs: ACK_WAIT_MS, heartbeatMs: 100 });
    const r = requestSpec(tenant, 0, { maxTokens: LONG_ANSWER });
    await publishBatch(h.js, pool.id, [r]);
    await waitFor('first chunks', () => (seen.chunks(r.requestId).length >= 3 ? true : undefined));
    const victim = await holder(sim, pool.id);
    expect(await fault(h.nc, subjects.workerControl(pool.id, victim), { kind: 'crash' })).toMatchObject({ crashed: true, running: 0 });
    const crashedAt = Date.now();
    const beatAtCrash = parseHeartbeat((await h.kv.get(heartbeatKey(pool.id, victim)))!.value)!;

    const t = await seen.terminal(r.requestId);
    const survivor = sim.sim.workers().find((w) => w.id !== victim)!.id;
    expect(t).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, attempt: 2, workerId: survivor });
    await sleep(100);
    const chunks = seen.chunks(r.requestId);
    const [first, second] = [chunks.filter((c) => c.attempt === 1), chunks.filter((c) => c.attempt === 2)];
    expect(first.length).toBeGreaterThanOrEqual(3);
    expect(first.every((c) => c.atMs <= crashedAt + 50)).toBe(true); // the dead worker streamed nothing more
    // The second attempt restarts at chunk 0 and regenerates the same text from the seed, in full.
    expect(second.map((c) => c.seq)).toEqual(Array.from({ length: t.chunkCount }, (_, i) => i));
    const full = Array.from({ length: LONG_ANSWER }, (_, i) => tokenText(r.seed, i)).join('');
    expect(second.map((c) => c.text).join('')).toBe(full);
    expect(full.startsWith(first.map((c) => c.text).join(''))).toBe(true);
    // Attempt 2 ran longer than the ack wait: it extended its deadline rather than being redelivered again.
    expect(chunks.some((c) => c.attempt > 2)).toBe(false);
    const { terminals, usage } = await recorded(tenant);
    expect(terminals).toHaveLength(1);
    // The completion is billed once; the crashed attempt's GPU time is recorded as a failed
    // attempt under a usage id of its own (metering bills it no tokens).
    const completions = usage.filter((u) => u.outcome === Outcome.OUTCOME_COMPLETED);
    expect(completions.map((u) => [u.usageId, u.workerId])).toEqual([[`usage-${r.requestId}`, survivor]]);
    const lost = usage.filter((u) => u.outcome === Outcome.OUTCOME_FAILED);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ workerId: victim, pool: pool.id, tier: r.tier, model: r.model, feature: r.feature });
    expect(lost[0]!.usageId).not.toBe(`usage-${r.requestId}`);
    expect(lost[0]!.gpuMs).toBeGreaterThan(0);
    // A dead worker stops heartbeating; its entry ages out of the bucket.
    expect(parseHeartbeat((await h.kv.get(heartbeatKey(pool.id, victim)))!.value)!.atUnixMs).toBe(beatAtCrash.atUnixMs);
    expect(await fault(h.nc, subjects.workerControl(pool.id, victim), { kind: 'clear' })).toMatchObject({ crashed: false });
    seen.close();
    await sim.sim.stop();
  });
});

describe('injected hang', () => {
  it('stops stepping and extending the ack deadline, so the request moves on; resuming late still leaves one outcome', async () => {
    const { tenant, pool, sim, seen } = await onePool(h, { workers: 2, slotsPerWorker: 4 }, { speed: 10, ackWaitMs: ACK_WAIT_MS, heartbeatMs: 100 });
    const r = requestSpec(tenant, 0, { maxTokens: LONG_ANSWER });
    await publishBatch(h.js, pool.id, [r]);
    await waitFor('first chunk', () => (seen.chunks(r.requestId).length > 0 ? true : undefined));
    const stuck = await holder(sim, pool.id);
    expect(await fault(h.nc, subjects.workerControl(pool.id, stuck), { kind: 'hang' })).toMatchObject({ hung: true });
    const t = await seen.terminal(r.requestId);
    expect(t).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, attempt: 2 });
    expect(t.workerId).not.toBe(stuck);
    // The hung worker still heartbeats, and its step time shows how long it has been stuck.
    const beat = parseHeartbeat((await h.kv.get(heartbeatKey(pool.id, stuck)))!.value)!;
    expect(beat).toMatchObject({ running: 1 });
    expect(beat.stepMs).toBeGreaterThan(1_000);
    await fault(h.nc, subjects.workerControl(pool.id, stuck), { kind: 'clear' });
    await waitFor('the late attempt to finish', async () =>
      (await fault(h.nc, subjects.workerControl(pool.id, stuck), { kind: 'status' })).running === 0 ? true : undefined,
    );
    await sleep(200);
    const { terminals, usage } = await recorded(tenant);
    expect(terminals).toHaveLength(1);
    expect(terminals[0]!.attempt).toBe(2);
    expect(usage).toHaveLength(1);
    seen.close();
    await sim.sim.stop();
  });
});

describe('injected stream cut, errors, slowdown, drain and caller cancels', () => {
  it('a cut stream ends in an explicit FAILED event with the chunks it sent, never a completion; its GPU time is recorded as a failed attempt', async () => {
    const { tenant, pool, sim, seen } = await onePool(h);
    expect(await fault(h.nc, subjects.workerControl(pool.id), { kind: 'cut-stream', afterTokens: 10 })).toMatchObject({ cutFraction: 1, cutAfterTokens: 10 });
    const cut = requestSpec(tenant, 0, { maxTokens: 64 });
    await publishBatch(h.js, pool.id, [cut]);
    const t = await seen.terminal(cut.requestId);
    expect(t).toMatchObject({ outcome: Outcome.OUTCOME_FAILED, tier: cut.tier, model: cut.model, feature: cut.feature, usage: undefined });
    // The first token goes alone, then 4 a chunk: tokens 0 | 1-4 | 5-8 went out; 9 was held.
    expect(t.reason).toMatch(/stream cut after 3 chunks \(10 of 64 tokens/);
    expect(t.chunkCount).toBe(3);
    await sleep(100);
    expect(seen.chunks(cut.requestId).map((c) => c.seq)).toEqual([0, 1, 2]);
    await fault(h.nc, subjects.workerControl(pool.id), { kind: 'clear' });
    const whole = requestSpec(tenant, 1, { maxTokens: 64 });
    await publishBatch(h.js, pool.id, [whole]);
    expect(await seen.terminal(whole.requestId)).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, chunkCount: 1 + Math.ceil(63 / 4) });
    const { terminals, usage } = await recorded(tenant);
    expect(terminals.filter((x) => x.requestId === cut.requestId).map((x) => x.outcome)).toEqual([Outcome.OUTCOME_FAILED]);
    expect(usage.map((u) => [u.requestId, u.outcome])).toEqual([
      [cut.requestId, Outcome.OUTCOME_FAILED],
      [whole.requestId, Outcome.OUTCOME_COMPLETED],
    ]);
    expect(usage[0]!.gpuMs).toBeGreaterThan(0);
    const consumer = await (await h.js.jetstreamManager()).consumers.info(streams.BATCHES.name, `workers-${pool.id}`);
    expect(consumer).toMatchObject({ num_ack_pending: 0, num_pending: 0, num_redelivered: 0 });
    seen.close();
    await sim.sim.stop();
  });

  it('fails the asked share of requests, slows steps by the factor, and refuses a malformed command', async () => {
    const { tenant, pool, sim, seen } = await onePool(h);
    const control = subjects.workerControl(pool.id);
    expect((await fault(h.nc, control, { kind: 'slowdown' })).error).toMatch(/factor > 0/);
    await fault(h.nc, control, { kind: 'error-rate', fraction: 1 });
    const failed = requestSpec(tenant, 0);
    await publishBatch(h.js, pool.id, [failed]);
    expect(await seen.terminal(failed.requestId)).toMatchObject({
      outcome: Outcome.OUTCOME_FAILED,
      reason: expect.stringMatching(/simulated GPU error/),
      chunkCount: 0,
    });
    await fault(h.nc, control, { kind: 'clear' });
    expect(await fault(h.nc, control, { kind: 'slowdown', factor: 3 })).toMatchObject({ slowdown: 3, errorFraction: 0 });
    const slow = requestSpec(tenant, 1, { maxTokens: 8 });
    await publishBatch(h.js, pool.id, [slow]);
    expect(await seen.terminal(slow.requestId)).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED });
    expect(sim.steps).toHaveLength(8);
    for (const s of sim.steps) expect(s.durationMs / perf.mixedMs(s.decodeBatch, s.prefillTokens, s.decodeContext)).toBeCloseTo(3, 9);
    seen.close();
    await sim.sim.stop();
  });

  it('a draining worker takes nothing new and says so in its heartbeat; cleared, it serves again', async () => {
    const { tenant, pool, sim, seen } = await onePool(h, {}, { heartbeatMs: 100 });
    const [w] = sim.sim.workers();
    expect(await fault(h.nc, subjects.workerControl(pool.id, w!.id), { kind: 'drain' })).toMatchObject({ draining: true });
    await sleep(1_200); // the pull open when the drain began expires
    const beat = parseHeartbeat((await h.kv.get(heartbeatKey(pool.id, w!.id)))!.value)!;
    expect(beat).toMatchObject({ draining: true, freeSlots: 0, freeKvTokens: 0 });
    const r = requestSpec(tenant, 0);
    await publishBatch(h.js, pool.id, [r]);
    await sleep(1_200);
    const jsm = await h.js.jetstreamManager();
    expect(await jsm.consumers.info(streams.BATCHES.name, `workers-${pool.id}`)).toMatchObject({ num_pending: 1, num_ack_pending: 0 });
    await fault(h.nc, subjects.workerControl(pool.id, w!.id), { kind: 'clear' });
    expect(await seen.terminal(r.requestId)).toMatchObject({ outcome: Outcome.OUTCOME_COMPLETED, attempt: 1 });
    seen.close();
    await sim.sim.stop();
  });

  it('a caller cancel stops generation and ends the request CANCELLED, also when it beats the batch to the worker', async () => {
    const { tenant, pool, sim, seen } = await onePool(h, {}, { speed: 10 });
    const running = requestSpec(tenant, 0, { maxTokens: 2_000 });
    await publishBatch(h.js, pool.id, [running]);
    await waitFor('first chunks', () => (seen.chunks(running.requestId).length >= 2 ? true : undefined));
    h.nc.publish(subjects.cancelRequest(running.requestId));
    const t = await seen.terminal(running.requestId);
    expect(t).toMatchObject({ outcome: Outcome.OUTCOME_CANCELLED, tier: running.tier, model: running.model, feature: running.feature });
    await sleep(100);
    expect(seen.chunks(running.requestId)).toHaveLength(t.chunkCount);
    // Billed: the prompt and exactly the tokens streamed before the cancel, on the usage record and the terminal event.
    const streamed = seen
      .chunks(running.requestId)
      .map((c) => c.text)
      .join('')
      .split(' ').length;
    expect(t.usage).toEqual({ inputTokens: running.promptTokens, cachedInputTokens: 0, outputTokens: streamed });
    const early = requestSpec(tenant, 1);
    h.nc.publish(subjects.cancelRequest(early.requestId));
    await h.nc.flush();
    await publishBatch(h.js, pool.id, [early]);
    expect(await seen.terminal(early.requestId)).toMatchObject({ outcome: Outcome.OUTCOME_CANCELLED, chunkCount: 0 });
    // The early cancel never reached a GPU: nothing to bill or cost.
    const { usage } = await recorded(tenant);
    expect(usage.map((u) => [u.requestId, u.outcome, u.usage])).toEqual([[running.requestId, Outcome.OUTCOME_CANCELLED, t.usage]]);
    expect(usage[0]!.gpuMs).toBeGreaterThan(0);
    seen.close();
    await sim.sim.stop();
  });
});

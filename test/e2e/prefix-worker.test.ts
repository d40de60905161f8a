import { Outcome, Tier, subjects } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { testPool, waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Issue #22, affinity reaches the GPU: in a pool of three workers, a prompt whose prefix one
 * of them holds runs on that one (the batcher hands it to `batches.<pool>.<worker>`), and once
 * that worker dies the pool's other workers serve the same prompts, each request ending once.
 */

const POOL = testPool({ id: 'trio', workers: 3, slotsPerWorker: 4 });
let system: RunningSystem;
let client: SwitchyardClient;

const DOCUMENT = Array.from({ length: 120 }, (_, i) => `Article ${i}: freight for dock ${i % 5} leaves at dawn.`).join(' ');
const ask = (question: string, maxTokens = 4, tier: Tier = Tier.TIER_UNSPECIFIED) =>
  client.complete({ model: 'llama-3.1-8b', prompt: `${DOCUMENT}\n\nQuestion: ${question}`, maxTokens, tier });

/** A realtime call with the shared prefix, streamed: when its first token reached the caller, and its id. */
async function realtime(question: string) {
  const sentAt = Date.now();
  let ttftMs: number | undefined;
  let requestId = '';
  let outcome: Outcome | undefined;
  for await (const { event } of client.generate({
    model: 'llama-3.1-8b',
    prompt: `${DOCUMENT}\n\nQuestion: ${question}`,
    maxTokens: 4,
    tier: Tier.TIER_REALTIME,
  })) {
    if (event?.$case === 'started') requestId = event.started.requestId;
    if (event?.$case === 'chunk') ttftMs ??= Date.now() - sentAt;
    if (event?.$case === 'finished') outcome = event.finished.outcome;
  }
  return { requestId, ttftMs, outcome };
}

beforeAll(async () => {
  system = await startSystem({ pools: [POOL], workerSpeed: 1, workerFaults: true });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
}, 60_000);
afterAll(async () => {
  client?.close();
  await system?.stop();
});

/** The worker each request's terminal outcome names, and how many terminals it has. */
async function terminals(requestIds: readonly string[]) {
  const wanted = new Set(requestIds);
  const found = new Map<string, string[]>();
  for (const m of await readStream(system.nc, 'LIFECYCLE')) {
    const p = m.event.payload;
    if (p?.$case !== 'requestTerminated' || !wanted.has(p.requestTerminated.requestId)) continue;
    found.set(p.requestTerminated.requestId, [...(found.get(p.requestTerminated.requestId) ?? []), p.requestTerminated.workerId]);
  }
  return found;
}

describe('affinity to the worker holding the prefix', () => {
  let holder = '';

  it('runs every prompt sharing a cached prefix on the one worker of the pool that holds it', async () => {
    const first = await ask('When does dock 3 ship?');
    holder = (await terminals([first.requestId])).get(first.requestId)![0]!;
    await waitFor('the prefix in the index', () => (system.scheduler.prefixBlocks({ pool: POOL.id, worker: holder }) >= 20 ? true : undefined));
    const replies = [];
    // One at a time: three workers sharing one queue would each take a third of them.
    for (let i = 0; i < 8; i++) replies.push(await ask(`Follow-up ${i}?`));
    expect(replies.every((r) => r.outcome === Outcome.OUTCOME_COMPLETED && r.usage!.cachedInputTokens > 1_200)).toBe(true);
    const ran = await terminals(replies.map((r) => r.requestId));
    expect([...ran.values()]).toEqual(replies.map(() => [holder]));
  });

  it("never queues a realtime request behind the holder's work past its objective (1 s): while the holder is full, the pool serves it", async () => {
    // Four long answers sharing the prefix fill the holder's four slots (they are handed to it for the hit).
    const long = Array.from({ length: 4 }, (_, i) => ask(`Recite every article, take ${i}.`, 600, Tier.TIER_INTERNAL));
    const busy = new Promise((r) => setTimeout(r, 1_500)); // its heartbeat says so within a second
    await busy;
    const probes = [];
    for (let i = 0; i < 3; i++) probes.push(await realtime(`Quick one ${i}?`));
    const longReplies = await Promise.all(long);
    const ranLong = await terminals(longReplies.map((r) => r.requestId));
    // The holder really was full: all four long ones ran on it.
    expect([...ranLong.values()]).toEqual(longReplies.map(() => [holder]));
    const ran = await terminals(probes.map((p) => p.requestId));
    for (const p of probes) {
      expect(p.outcome).toBe(Outcome.OUTCOME_COMPLETED);
      expect(p.ttftMs).toBeLessThan(1_000);
      expect(ran.get(p.requestId)![0]).not.toBe(holder);
    }
  }, 60_000);

  it('serves the same prompts on the other workers once the holder dies, each request ending once', async () => {
    const crash = await system.nc.request(subjects.workerControl(POOL.id, holder), JSON.stringify({ kind: 'crash' }), { timeout: 5_000 });
    expect(JSON.parse(new TextDecoder().decode(crash.data))).toMatchObject({ crashed: true });
    // Sent at once, some before anyone knows the holder is dead: those wait in its queue until moved.
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => ask(`After the crash ${i}?`)));
    expect(replies.map((r) => r.outcome)).toEqual(replies.map(() => Outcome.OUTCOME_COMPLETED));
    const ran = await terminals(replies.map((r) => r.requestId));
    for (const r of replies) {
      expect(ran.get(r.requestId)).toHaveLength(1);
      expect(ran.get(r.requestId)![0]).not.toBe(holder);
    }
    await system.nc.request(subjects.workerControl(POOL.id, holder), JSON.stringify({ kind: 'clear' }), { timeout: 5_000 });
  }, 90_000);
});

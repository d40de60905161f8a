import { Outcome, subjects } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { testPool, waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream } from '../support/read-stream.js';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Issue #22, placement: workers tell the scheduler what their prefix caches hold (KV events),
 * and a prompt whose prefix one GPU holds goes there while that GPU has room, the decision
 * naming the expected hit; a worker that dies leaves the index. Two identical one-GPU pools, so
 * nothing but the cache tells them apart. Real-time workers: a request takes as long as it would.
 */

const POOLS = [testPool({ id: 'east', workers: 1, slotsPerWorker: 2 }), testPool({ id: 'west', workers: 1, slotsPerWorker: 2 })];
let system: RunningSystem;
let client: SwitchyardClient;

const DOCUMENT = Array.from({ length: 120 }, (_, i) => `Clause ${i}: the yard hands each train to track ${i % 7} before noon.`).join(' ');
const ask = (question: string, maxTokens = 4) => client.complete({ model: 'llama-3.1-8b', prompt: `${DOCUMENT}\n\nQuestion: ${question}`, maxTokens });

beforeAll(async () => {
  system = await startSystem({ pools: POOLS, workerSpeed: 1, workerFaults: true });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
}, 60_000);
afterAll(async () => {
  client?.close();
  await system?.stop();
});

async function placementOf(requestId: string) {
  const decisions = await readStream(system.nc, 'DECISIONS');
  const d = decisions.find(
    (m) => m.event.envelope?.requestId === requestId && m.event.payload?.$case === 'decision' && m.event.payload.decision.action === 'place',
  );
  return d?.event.payload?.$case === 'decision' ? d.event.payload.decision : undefined;
}

describe('placement by prefix', () => {
  let home = '';

  it('sends prompts that share a cached prefix to the GPU holding it, and the decision names the hit', async () => {
    const first = await ask('Which track at noon?');
    home = (await placementOf(first.requestId))!.chosen;
    await waitFor('the prefix in the index', () => (system.scheduler.prefixBlocks() >= 25 ? true : undefined));
    for (let i = 0; i < 6; i++) {
      const reply = await ask(`Follow-up number ${i}?`);
      expect(reply.usage!.cachedInputTokens).toBeGreaterThan(1_500);
      const decision = (await placementOf(reply.requestId))!;
      expect(decision.chosen).toBe(home);
      const chosen = decision.candidates.find((c) => c.id === home)!;
      expect(chosen).toMatchObject({ prefixWorker: 'test-w0', prefixHitTokens: reply.usage!.cachedInputTokens });
      expect(chosen.prefixHitBlocks * 64).toBe(chosen.prefixHitTokens);
      expect(chosen.reason).toMatch(/prefix hit \d+ blocks \(\d+ tokens\) on /);
      expect(decision.candidates.find((c) => c.id !== home)!.prefixHitTokens).toBe(0);
    }
  });

  it('places elsewhere while the GPU holding the prefix is full', async () => {
    // Both of its slots taken by long answers: the hit is worth nothing until one frees.
    const long = [ask('Tell it all, at length.', 400), ask('Once more, at length.', 400)];
    await waitFor('the holder full', () => {
      const pool = system.scheduler.ops.listPools().find((p) => p.id === home);
      return pool && pool.freeSlots === 0 ? true : undefined;
    });
    const reply = await ask('While it is busy?');
    const decision = (await placementOf(reply.requestId))!;
    expect(decision.chosen).not.toBe(home);
    expect(decision.candidates.every((c) => c.prefixHitTokens === 0)).toBe(true);
    expect((await Promise.all(long)).every((r) => r.outcome === Outcome.OUTCOME_COMPLETED)).toBe(true);
  });

  it("forgets a dead worker's blocks", async () => {
    const worker = { pool: home, worker: 'test-w0' };
    expect(system.scheduler.prefixBlocks(worker)).toBeGreaterThan(25);
    const crash = await system.nc.request(subjects.workerControl(home, 'test-w0'), JSON.stringify({ kind: 'crash' }), { timeout: 5_000 });
    expect(JSON.parse(new TextDecoder().decode(crash.data))).toMatchObject({ crashed: true });
    // Its cache went with it: what only it held leaves the index once its heartbeat is stale.
    await waitFor('its blocks out of the index', () => (system.scheduler.prefixBlocks(worker) === 0 ? true : undefined), 20_000);
    const reply = await ask('After the crash?');
    expect((await placementOf(reply.requestId))!.chosen).not.toBe(home);
    await system.nc.request(subjects.workerControl(home, 'test-w0'), JSON.stringify({ kind: 'clear' }), { timeout: 5_000 });
  });
});

import { Outcome } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { startEngineSimulatorProcess, testPool, waitFor, type EngineSimulatorProcess, type ProcessServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { terminalsByRequest } from '../support/read-stream.js';
import { startServiceProcess } from '../support/service-process.js';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Issue #21: kill -9 of the engine adapter while it relays streams from an engine. Its batches
 * come back after the ack wait and run again on the engine from the start; the same seed gives
 * the same text, so callers still get every token once, in order, and each request is billed
 * once, for its one finished attempt.
 */

let system: RunningSystem;
let engine: EngineSimulatorProcess;
let client: SwitchyardClient;
let adapter: ProcessServer | undefined;
const CALLS = 8;
const TOKENS = 120;

beforeAll(async () => {
  engine = await startEngineSimulatorProcess({ model: 'llama-3.1-8b', slots: 16, speed: 1 });
  system = await startSystem({
    pools: [
      testPool({
        id: 'vllm-x',
        kind: 'openai-compatible',
        slotsPerWorker: 16,
        endpoint: { baseUrl: engine.baseUrl, concurrency: 16, firstTokenTimeoutMs: 5_000, idleTimeoutMs: 5_000 },
      }),
    ],
  });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
}, 90_000);

afterAll(async () => {
  client?.close();
  await adapter?.stop();
  await system?.stop();
  await engine?.stop();
});

const env = () => ({ NATS_URL: system.servers.nats.url, POOLS_FILE: system.poolsFile, ADAPTER_ACK_WAIT_MS: '2000' });

describe('chaos: kill -9 the engine adapter mid-stream', () => {
  it('every caller gets its whole text once, every request ends once and is billed once', async () => {
    adapter = await startServiceProcess('engine-adapter', env());
    const texts = new Map<number, { requestId: string; text: string; outcome?: Outcome }>();
    const calls = Array.from({ length: CALLS }, async (_, i) => {
      const got = { requestId: '', text: '' } as { requestId: string; text: string; outcome?: Outcome };
      texts.set(i, got);
      for await (const e of client.generate({ model: 'llama-3.1-8b', prompt: `kill test ${i}`, maxTokens: TOKENS, seed: 500 + i, timeoutMs: 60_000 })) {
        if (e.event?.$case === 'started') got.requestId = e.event.started.requestId;
        if (e.event?.$case === 'chunk') got.text += e.event.chunk.text;
        if (e.event?.$case === 'finished') got.outcome = e.event.finished.outcome;
      }
    });
    let kills = 0;
    for (let round = 0; round < 2; round++) {
      const before = [...texts.values()].reduce((n, t) => n + t.text.length, 0);
      await waitFor('tokens flowing', () => ([...texts.values()].reduce((n, t) => n + t.text.length, 0) > before ? true : undefined), 20_000);
      await adapter.kill();
      kills++;
      adapter = await startServiceProcess('engine-adapter', env());
    }
    await Promise.all(calls);

    // What the engine gives for each seed, asked directly: the text each caller must have got.
    for (const [i, got] of texts) {
      const direct = (await (
        await fetch(`${engine.baseUrl}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: `kill test ${i}` }], max_tokens: TOKENS, seed: 500 + i }),
        })
      ).json()) as { choices: [{ message: { content: string } }] };
      expect({ i, outcome: got.outcome, text: got.text }).toEqual({ i, outcome: Outcome.OUTCOME_COMPLETED, text: direct.choices[0].message.content });
    }
    const ids = [...texts.values()].map((t) => t.requestId);
    const terminals = await terminalsByRequest(system.nc);
    expect(ids.map((id) => terminals.get(id))).toEqual(ids.map(() => ['completed']));
    const billed = await waitFor('one ledger row per request', async () => {
      const rows = await system.sql<{ request_id: string; output_tokens: number }[]>`
        SELECT request_id, output_tokens FROM ledger_transactions WHERE kind = 'usage' AND request_id = ANY(${ids})`;
      return rows.length >= CALLS ? rows : undefined;
    });
    expect(billed).toHaveLength(CALLS);
    expect(billed.every((r) => r.output_tokens === TOKENS)).toBe(true);
    console.log(`engine adapter killed ${kills} times under ${CALLS} streams: ${CALLS} completed, each billed once for ${TOKENS} tokens`);
  });
});

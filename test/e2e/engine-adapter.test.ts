import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { startFakeOpenAiUpstream, testPool, waitFor, type FakeUpstream } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Issue #21, first slice: a pool of kind `openai-compatible` served by the engine adapter in
 * front of a fake OpenAI-compatible engine. A caller admitted through admission gets the
 * engine's tokens, and the ledger bills the engine's own usage.
 */

let system: RunningSystem;
let upstream: FakeUpstream;
let client: SwitchyardClient;

beforeAll(async () => {
  upstream = await startFakeOpenAiUpstream({ kind: 'stream', tokens: ['Switch', 'yards', ' sort', ' trains', '.'], usage: { prompt: 37, completion: 5 } });
  system = await startSystem({
    pools: [
      testPool({
        id: 'vllm-eu-8b',
        kind: 'openai-compatible',
        endpoint: {
          baseUrl: upstream.baseUrl,
          apiKeyEnv: 'VLLM_KEY',
          upstreamModel: 'meta-llama/Llama-3.1-8B-Instruct',
          concurrency: 8,
          firstTokenTimeoutMs: 5_000,
          idleTimeoutMs: 5_000,
        },
      }),
    ],
    engineAdapter: { apiKeys: { VLLM_KEY: 'sk-vllm' } },
  });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
}, 60_000);
afterAll(async () => {
  client?.close();
  await system?.stop();
  await upstream?.close();
});

describe('a request served by a real-engine pool', () => {
  it("streams the engine's tokens back and is billed the engine's usage once", async () => {
    const stream = client.generate({ model: 'llama-3.1-8b', prompt: 'what does a switchyard do?', maxTokens: 32 });
    const got = { requestId: '', text: '', finished: undefined as unknown };
    stream.on('data', (e: { event?: { $case: string; started?: { requestId: string }; chunk?: { text: string }; finished?: unknown } }) => {
      if (e.event?.$case === 'started') got.requestId = e.event.started!.requestId;
      if (e.event?.$case === 'chunk') got.text += e.event.chunk!.text;
      if (e.event?.$case === 'finished') got.finished = e.event.finished;
    });
    await new Promise<void>((resolve, reject) => (stream.on('end', resolve), stream.on('error', reject)));
    expect(got.text).toBe('Switchyards sort trains.');
    expect(got.finished).toMatchObject({ usage: { inputTokens: 37, outputTokens: 5 } });
    expect(upstream.calls).toHaveLength(1);
    expect(upstream.calls[0]!.body).toMatchObject({ model: 'meta-llama/Llama-3.1-8B-Instruct', stream: true });

    const rows = await waitFor('the ledger row', async () => {
      const r = await system.sql<{ input_tokens: number; output_tokens: number; amount_micros: string }[]>`
        SELECT input_tokens, output_tokens, amount_micros FROM ledger_transactions WHERE kind = 'usage' AND request_id = ${got.requestId}`;
      return r.length > 0 ? r : undefined;
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ input_tokens: 37, output_tokens: 5 });
    expect(Number(rows[0]!.amount_micros)).toBeGreaterThan(0);
  });

  it('a stream the engine cuts mid-way reaches the caller as a failure once, and the tenant pays nothing', async () => {
    upstream.answer({ kind: 'cut', tokens: ['Rail', 'way', ' yards'], afterTokens: 2 });
    const stream = client.generate({ model: 'llama-3.1-8b', prompt: 'and then?', maxTokens: 32 });
    const got = { requestId: '', text: '', finished: undefined as unknown, error: undefined as Error | undefined };
    stream.on('data', (e: { event?: { $case: string; started?: { requestId: string }; chunk?: { text: string }; finished?: unknown } }) => {
      if (e.event?.$case === 'started') got.requestId = e.event.started!.requestId;
      if (e.event?.$case === 'chunk') got.text += e.event.chunk!.text;
      if (e.event?.$case === 'finished') got.finished = e.event.finished;
    });
    await new Promise<void>((resolve) => (stream.on('end', resolve), stream.on('error', (e: Error) => ((got.error = e), resolve()))));
    expect(got.text).toBe('Railway');
    // A failure ends the call with gRPC UNAVAILABLE and the reason, never a finished event.
    expect(got.finished).toBeUndefined();
    expect(got.error?.message).toMatch(/UNAVAILABLE: generation failed: upstream of pool vllm-eu-8b stream cut after 2 chunks/);
    const [terminal] = await waitFor('the terminal row', async () => {
      const r = await system.sql<{ outcome: string }[]>`SELECT outcome FROM metered_usage WHERE request_id = ${got.requestId}`;
      return r.length > 0 ? r : undefined;
    });
    expect(terminal!.outcome).toMatch(/failed/i);
    const charged = await system.sql<{ amount: string }[]>`
      SELECT coalesce(sum(amount_micros), 0) AS amount FROM ledger_transactions WHERE kind = 'usage' AND request_id = ${got.requestId}`;
    expect(Number(charged[0]!.amount)).toBe(0);
  });
});

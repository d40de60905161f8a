import { Outcome } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { startEngineSimulatorProcess, testPool, waitFor, type EngineSimulatorProcess } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream, terminalsByRequest } from '../support/read-stream.js';
import { reconcileSystem } from '../support/reconcile.js';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * Issue #21: pools of real engines, here the worker simulator's engine mode run as separate
 * processes (an OpenAI-compatible server with vLLM's /metrics, timed by the measured profiles).
 * Pool `vllm-a` (8B) is two engines behind one pool, `vllm-b` (8B) one more; `flaky-1b` and
 * `steady-1b` (1B) are one engine each, and flaky's is the one faults are injected into. Cheaper
 * pools win when idle, so `vllm-a` and `flaky-1b` take the work unless their engines say otherwise.
 */

let system: RunningSystem;
let client: SwitchyardClient;
let engines: {
  a1: EngineSimulatorProcess;
  a2: EngineSimulatorProcess;
  b: EngineSimulatorProcess;
  flaky: EngineSimulatorProcess;
  steady: EngineSimulatorProcess;
};
const endpoint = (concurrency: number, ...e: EngineSimulatorProcess[]) => ({
  ...(e.length > 1 ? { baseUrls: e.map((x) => x.baseUrl) } : { baseUrl: e[0]!.baseUrl }),
  concurrency,
  firstTokenTimeoutMs: 1_500,
  idleTimeoutMs: 1_500,
});
const started = Date.now();

beforeAll(async () => {
  const eight = { model: 'llama-3.1-8b', slots: 4, speed: 1 } as const;
  const [a1, a2, b, flaky, steady] = await Promise.all([
    startEngineSimulatorProcess(eight),
    startEngineSimulatorProcess(eight),
    startEngineSimulatorProcess(eight),
    startEngineSimulatorProcess({ model: 'llama-3.2-1b', speed: 4 }),
    startEngineSimulatorProcess({ model: 'llama-3.2-1b', speed: 4 }),
  ]);
  engines = { a1: a1!, a2: a2!, b: b!, flaky: flaky!, steady: steady! };
  system = await startSystem({
    pools: [
      // workers: the engines behind the pool; slotsPerWorker: what each engine runs at once.
      testPool({ id: 'vllm-a', kind: 'openai-compatible', workers: 2, slotsPerWorker: 4, pricePerGpuHour: 1, endpoint: endpoint(1, engines.a1, engines.a2) }),
      testPool({ id: 'vllm-b', kind: 'openai-compatible', workers: 1, slotsPerWorker: 4, pricePerGpuHour: 8, endpoint: endpoint(4, engines.b) }),
      testPool({
        id: 'flaky-1b',
        model: 'llama-3.2-1b',
        kind: 'openai-compatible',
        slotsPerWorker: 32,
        pricePerGpuHour: 1,
        endpoint: endpoint(8, engines.flaky),
      }),
      testPool({
        id: 'steady-1b',
        model: 'llama-3.2-1b',
        kind: 'openai-compatible',
        slotsPerWorker: 32,
        pricePerGpuHour: 8,
        endpoint: endpoint(8, engines.steady),
      }),
    ],
    engineAdapter: {},
  });
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
}, 90_000);

afterAll(async () => {
  client?.close();
  await system?.stop();
  await Promise.all(Object.values(engines ?? {}).map((e) => e.stop()));
});

/** The pool that served (or ended) a request, from its terminal event. */
async function poolOf(requestId: string): Promise<string> {
  const t = (await readStream(system.nc, 'LIFECYCLE')).find((m) => m.event.envelope?.requestId === requestId);
  return t?.event.payload?.$case === 'requestTerminated' ? t.event.payload.requestTerminated.pool : '';
}

/** Sum of a counter over an engine's label sets. */
async function engineCounter(e: EngineSimulatorProcess, name: string): Promise<number> {
  const text = await (await fetch(e.metricsUrl)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function streamOverGrpc(prompt: string, seed: number, maxTokens: number) {
  const got = { requestId: '', text: '', finished: undefined as { usage?: { inputTokens: number; outputTokens: number } } | undefined };
  for await (const e of client.generate({ model: 'llama-3.1-8b', prompt, maxTokens, seed })) {
    if (e.event?.$case === 'started') got.requestId = e.event.started.requestId;
    if (e.event?.$case === 'chunk') got.text += e.event.chunk.text;
    if (e.event?.$case === 'finished') got.finished = e.event.finished;
  }
  return got;
}

describe('a pool of two engines', () => {
  it('serves gRPC and HTTP callers in order, billed exactly what the engines counted', async () => {
    const eights = [engines.a1, engines.a2, engines.b];
    const counted = async (name: string) => (await Promise.all(eights.map((e) => engineCounter(e, name)))).reduce((a, b) => a + b, 0);
    const before = { prompt: await counted('vllm:prompt_tokens_total'), generated: await counted('vllm:generation_tokens_total') };
    // One request at a time per engine (concurrency 1): while the first engine holds a long
    // stream, the pool's other requests go to the second.
    const long = client.generate({ model: 'llama-3.1-8b', prompt: 'a long answer', maxTokens: 300, seed: 99 });
    const first = { requestId: '', text: '', finished: undefined as { usage?: { inputTokens: number; outputTokens: number } } | undefined };
    const longDone = (async () => {
      for await (const e of long) {
        if (e.event?.$case === 'started') first.requestId = e.event.started.requestId;
        if (e.event?.$case === 'chunk') first.text += e.event.chunk.text;
        if (e.event?.$case === 'finished') first.finished = e.event.finished;
      }
    })();
    await waitFor('the long stream under way', () => (first.text ? true : undefined));
    const streamed = [];
    for (let i = 0; i < 3; i++) streamed.push(await streamOverGrpc(`a question about rail yards, number ${i}`, 100 + i, 24));
    // The same request over the OpenAI facade, not streamed: the same seed gives the same text, so the stream's order held.
    const overHttp = (await (
      await fetch(`${system.httpUrl}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'llama-3.1-8b',
          messages: [{ role: 'user', content: 'a question about rail yards, number 0' }],
          max_tokens: 24,
          seed: 100,
        }),
      })
    ).json()) as { choices: [{ message: { content: string } }]; usage: { prompt_tokens: number; completion_tokens: number } };
    expect(overHttp.choices[0].message.content).toBe(streamed[0]!.text);
    expect(overHttp.usage.completion_tokens).toBe(24);
    expect(streamed.every((s) => s.text.length > 0 && s.finished?.usage?.outputTokens === 24)).toBe(true);
    await longDone;
    expect(first.finished?.usage?.outputTokens).toBe(300);
    // While the first engine held the long stream, the second served the rest.
    expect(await poolOf(first.requestId)).toBe('vllm-a');
    expect(new Set(await Promise.all(streamed.map((s) => poolOf(s.requestId))))).toEqual(new Set(['vllm-a']));

    const ledger = await waitFor('five ledger rows', async () => {
      const rows = await system.sql<{ input: string; output: string; gpu: number; n: string }[]>`
        SELECT sum(input_tokens) AS input, sum(output_tokens) AS output, min(gpu_seconds) AS gpu, count(*) AS n
        FROM ledger_transactions WHERE kind = 'usage' AND model = 'llama-3.1-8b'`;
      return Number(rows[0]!.n) >= 5 ? rows[0]! : undefined;
    });
    const after = { prompt: await counted('vllm:prompt_tokens_total'), generated: await counted('vllm:generation_tokens_total') };
    // Both engines took part, and what they counted is what the tenant was billed.
    expect(await engineCounter(engines.a1, 'vllm:request_success_total')).toBeGreaterThan(0);
    expect(await engineCounter(engines.a2, 'vllm:request_success_total')).toBeGreaterThan(0);
    expect(Number(ledger.n)).toBe(5);
    expect(Number(ledger.output)).toBe(after.generated - before.generated);
    expect(Number(ledger.input)).toBe(after.prompt - before.prompt);
    // GPU time, apportioned from the engines' running counts, is costed like a simulated GPU's.
    expect(ledger.gpu).toBeGreaterThan(0);
  });

  it("places by the engines' own queue: a busy pool's requests go to the idle one", async () => {
    // Load both of vllm-a's engines directly (another client of the same engines): four slots
    // each, twelve long requests each, so the engines report a queue in their metrics.
    const abort = new AbortController();
    const direct = [engines.a1, engines.a2].flatMap((e) =>
      Array.from({ length: 12 }, () =>
        fetch(`${e.baseUrl}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'keep busy' }], max_tokens: 4_000, stream: true }),
          signal: abort.signal,
        })
          // Read what they stream, as a real client does (an unread stream holds its connection).
          .then(async (r) => {
            for await (const _ of r.body!);
          })
          .catch(() => undefined),
      ),
    );
    try {
      await waitFor('the engines queue, and the heartbeats say so', async () => {
        const waiting = await Promise.all([engines.a1, engines.a2].map((e) => engineCounter(e, 'vllm:num_requests_waiting')));
        const view = system.scheduler.ops.listPools();
        const a = view.find((p) => p.id === 'vllm-a');
        return waiting.every((w) => w >= 8) && a && a.waiting >= 16 && a.kvUsed > 0 ? true : undefined;
      });
      const busy = await streamOverGrpc('which pool now?', 7, 8);
      const why = (await readStream(system.nc, 'DECISIONS')).find((m) => m.event.envelope?.requestId === busy.requestId)?.event.payload;
      expect({ pool: await poolOf(busy.requestId), why }).toMatchObject({ pool: 'vllm-b' });
      const decision = (await readStream(system.nc, 'DECISIONS')).find(
        (m) => m.event.envelope?.requestId === busy.requestId && m.event.payload?.$case === 'decision' && m.event.payload.decision.action === 'place',
      );
      const placed = decision?.event.payload?.$case === 'decision' ? decision.event.payload.decision : undefined;
      expect({ chosen: placed?.chosen, candidates: placed?.candidates }).toMatchObject({ chosen: 'vllm-b' });
    } finally {
      abort.abort();
      await Promise.all(direct);
    }
  });
});

describe("an engine's failures", () => {
  /** A realtime 1B request; placed on flaky-1b (the cheaper) while its engine is in placement. */
  const ask = (prompt: string) => client.complete({ model: 'llama-3.2-1b', prompt, maxTokens: 16, seed: 5 });

  it('before the first token (429 with retry-after, 500, no answer): the request is re-placed and served, billed once', async () => {
    for (const [name, fault] of [
      ['429', { status: 429, retryAfterS: 1 }],
      ['500', { status: 500 }],
      ['hang', { hang: true }],
    ] as const) {
      await engines.flaky.setFaults(fault);
      const reply = await ask(`fault ${name}`);
      expect({ name, outcome: reply.outcome }).toEqual({ name, outcome: Outcome.OUTCOME_COMPLETED });
      expect({ name, pool: await poolOf(reply.requestId) }).toEqual({ name, pool: 'steady-1b' });
      const decisions = (await readStream(system.nc, 'DECISIONS')).filter((m) => m.event.envelope?.requestId === reply.requestId);
      const failover = decisions.find((m) => m.event.payload?.$case === 'decision' && m.event.payload.decision.action === 'failover');
      expect(failover?.event.payload?.$case === 'decision' && failover.event.payload.decision.reason).toMatch(
        /upstream of pool flaky-1b .*before its first token/,
      );
      await engines.flaky.clearFaults();
      // Each fault on its own: wait until flaky is placeable again (a 429 pauses it for its retry-after).
      await waitFor('flaky-1b back in placement', async () => {
        const p = system.scheduler.ops.listPools().find((x) => x.id === 'flaky-1b');
        return p && p.healthyWorkers > 0 && p.freeSlots > 0 ? true : undefined;
      });
    }
  });

  it('after the first token (a stream cut after 3 tokens): the caller gets UNAVAILABLE with what happened, and pays nothing', async () => {
    await engines.flaky.setFaults({ cutAfterTokens: 3 });
    const err = await ask('cut me off').catch((e: { code: number; details: string }) => e);
    await engines.flaky.clearFaults();
    expect(err).toMatchObject({ code: 14, details: expect.stringMatching(/upstream of pool flaky-1b stream cut after \d+ chunks/) });
  });

  it('leaves every request with exactly one terminal outcome, bills no platform failure, and reconciles with 0 differences', async () => {
    const terminals = await terminalsByRequest(system.nc);
    expect([...terminals.values()].filter((t) => t.length !== 1)).toEqual([]);
    // A failed attempt that streamed (the cut one) is posted like any usage, for its GPU time,
    // with nothing charged to the tenant: wait for its posting, then nothing failed is charged.
    const failed = [...terminals.entries()].filter(([, t]) => t[0] === 'failed').map(([id]) => id);
    const failedCharged = await waitFor('the failed attempts posted', async () => {
      const [row] = await system.sql<{ n: string; charged: string | null }[]>`
        SELECT count(*) AS n, sum(amount_micros) AS charged FROM ledger_transactions WHERE kind = 'usage' AND request_id = ANY(${failed}::text[])`;
      return Number(row!.n) > 0 ? Number(row!.charged) : undefined;
    });
    expect(failedCharged).toBe(0);
    const report = await reconcileSystem(system, started - 60_000, { untilClean: true });
    expect(report.differences).toEqual([]);
  });
});

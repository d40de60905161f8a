import { createPerfModel, loadProfiles } from '@switchyard/perf-model';
import { waitFor } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { findStop } from './domain/stop-sequences.js';
import { tokenText } from './domain/text.js';
import { createEngineServer, type EngineServer, type EngineServerOptions } from './engine-server.js';
import { chatBody, post, readCompletionStream, scrape } from './openai-client.fixture.js';

const servers: EngineServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function start(options: Partial<EngineServerOptions> = {}) {
  const server = createEngineServer({ model: 'llama-3.2-1b', gpu: 'h100-80gb', speed: 'max', ...options });
  servers.push(server);
  const urls = await server.start();
  return { server, ...urls, chat: `${urls.baseUrl}/chat/completions`, completions: `${urls.baseUrl}/completions` };
}

const M = 'model_name="llama-3.2-1b"';
const expectedText = (seed: number, tokens: number) => Array.from({ length: tokens }, (_, i) => tokenText(seed, i)).join('');

describe('engine server: completions', () => {
  it('streams a chat completion token by token, then the finish reason, the usage and [DONE]', async () => {
    const { chat } = await start();
    const s = await readCompletionStream(chat, chatBody({ max_tokens: 24, seed: 7 }));
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(s.error).toBeUndefined();
    // One content chunk per token the engine produced, in the order it produced them.
    expect(s.pieces).toHaveLength(24);
    expect(s.pieces.join('')).toBe(expectedText(7, 24));
    expect(s.finishReasons).toEqual(['length']);
    expect(s.usage).toMatchObject({ completion_tokens: 24, prompt_tokens: expect.any(Number) as number });
    expect(s.usage!.prompt_tokens).toBeGreaterThan(1);
    expect(s.usage!.total_tokens).toBe(s.usage!.prompt_tokens + 24);
    expect(s.done).toBe(true);
    const chunks = s.events.filter((e) => e !== '[DONE]') as Array<Record<string, unknown>>;
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'llama-3.2-1b' && typeof c.created === 'number')).toBe(true);
    expect(chunks.at(-1)).toMatchObject({ choices: [] });
  });

  it('ends at a stop sequence with finish reason stop, the sequence itself not sent', async () => {
    const { chat } = await start();
    const seed = 11;
    const word = tokenText(seed, 5).trim();
    const stop = findStop(seed, 64, [word])!;
    const s = await readCompletionStream(chat, chatBody({ max_tokens: 64, seed, stop: [word] }));
    expect(s.finishReasons).toEqual(['stop']);
    expect(s.pieces.join('')).toBe(expectedText(seed, stop.tokens).slice(0, stop.visibleChars));
    expect(s.usage?.completion_tokens).toBe(stop.tokens);
    expect(s.done).toBe(true);
  });

  it('leaves usage out of a stream that did not ask for it', async () => {
    const { chat } = await start();
    const s = await readCompletionStream(chat, chatBody({ stream_options: undefined, max_tokens: 4 }));
    expect(s.usage).toBeUndefined();
    expect(s.finishReasons).toEqual(['length']);
    expect(s.done).toBe(true);
  });

  it('answers a request that does not stream with one body, for chat and for completions', async () => {
    const { chat, completions } = await start();
    const c = await post(chat, chatBody({ stream: false, max_tokens: 6, seed: 3 }));
    expect(c.status).toBe(200);
    expect(await c.json()).toMatchObject({
      object: 'chat.completion',
      model: 'llama-3.2-1b',
      choices: [{ index: 0, message: { role: 'assistant', content: expectedText(3, 6) }, finish_reason: 'length' }],
      usage: { completion_tokens: 6, prompt_tokens_details: { cached_tokens: 0 } },
    });
    const t = await post(completions, { model: 'llama-3.2-1b', prompt: 'Once upon a time', max_tokens: 5, seed: 4 });
    expect(await t.json()).toMatchObject({
      object: 'text_completion',
      choices: [{ index: 0, text: expectedText(4, 5), finish_reason: 'length' }],
      usage: { completion_tokens: 5 },
    });
  });

  it('reports a repeated prompt prefix as cached_tokens, as vLLM with prefix caching does', async () => {
    const { chat } = await start();
    const document = Array.from({ length: 60 }, (_, i) => `Clause ${i}: each train leaves from track ${i % 5}.`).join(' ');
    const ask = async (question: string) =>
      (await (await post(chat, chatBody({ stream: false, max_tokens: 4, messages: [{ role: 'user', content: `${document} ${question}` }] }))).json()) as {
        usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } };
      };
    expect((await ask('Which track?')).usage.prompt_tokens_details.cached_tokens).toBe(0);
    const again = await ask('And which train?');
    expect(again.usage.prompt_tokens).toBeGreaterThan(640);
    // Whole 64-token blocks of the shared document, never the question.
    expect(again.usage.prompt_tokens_details.cached_tokens % 64).toBe(0);
    expect(again.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(again.usage.prompt_tokens - 64 - 16);
  });

  it('streams /v1/completions as text chunks', async () => {
    const { completions } = await start();
    const s = await readCompletionStream(completions, { prompt: 'Once', max_tokens: 5, stream: true, seed: 2, stream_options: { include_usage: true } });
    expect(s.pieces.join('')).toBe(expectedText(2, 5));
    expect(s.usage?.completion_tokens).toBe(5);
    expect((s.events[0] as { object: string }).object).toBe('text_completion');
  });

  it('lists its served names under /v1/models and takes any of them', async () => {
    const { baseUrl, chat } = await start({ servedModelNames: ['small', 'llama-3.2-1b'] });
    expect(await (await fetch(`${baseUrl}/models`)).json()).toMatchObject({ object: 'list', data: [{ id: 'small', object: 'model' }, { id: 'llama-3.2-1b' }] });
    const s = await readCompletionStream(chat, chatBody({ model: 'small', max_tokens: 2 }));
    expect((s.events[0] as { model: string }).model).toBe('small');
  });
});

describe('engine server: timing', () => {
  it("paces tokens by the model's measured step times, scaled by the speed factor", async () => {
    const { rows, meta } = (await loadProfiles())['h100-80gb'];
    const perf = createPerfModel(rows, meta, 'llama-3.1-8b');
    const { chat } = await start({ model: 'llama-3.1-8b', speed: 2 });
    const tokens = 40;
    const started = performance.now();
    const s = await readCompletionStream(chat, chatBody({ model: 'llama-3.1-8b', max_tokens: tokens }));
    const realMs = performance.now() - started;
    expect(s.pieces).toHaveLength(tokens);
    // Every token after the first takes at least one decode step of batch 1; real time is simulated time / speed.
    const floorMs = ((tokens - 1) * perf.decodeMs(1, 1)) / 2;
    expect(realMs).toBeGreaterThan(0.9 * floorMs);
  });
});

describe('engine server: load and /metrics', () => {
  it('runs at most `slots` sequences, queues the rest, and frees every slot when the callers leave', async () => {
    const { metricsUrl, chat, server } = await start({ slots: 3, speed: 1 });
    const callers = Array.from({ length: 5 }, () => new AbortController());
    const streams = callers.map((c) => post(chat, chatBody({ max_tokens: 100_000 }), { signal: c.signal }).catch(() => undefined));
    await waitFor('3 running and 2 waiting', async () =>
      (await scrape(metricsUrl, `vllm:num_requests_running{${M}}`)) === 3 && (await scrape(metricsUrl, `vllm:num_requests_waiting{${M}}`)) === 2
        ? true
        : undefined,
    );
    expect(await scrape(metricsUrl, `vllm:kv_cache_usage_perc{${M}}`)).toBeGreaterThan(0);
    expect(await scrape(metricsUrl, `vllm:gpu_cache_usage_perc{${M}}`)).toBeGreaterThan(0);
    expect(await scrape(metricsUrl, `vllm:prompt_tokens_total{${M}}`)).toBeGreaterThan(0);
    await waitFor('tokens generated', async () => ((await scrape(metricsUrl, `vllm:generation_tokens_total{${M}}`))! > 0 ? true : undefined));
    for (const c of callers) c.abort();
    await Promise.all(streams);
    await waitFor('every slot free', async () =>
      (await scrape(metricsUrl, `vllm:num_requests_running{${M}}`)) === 0 && (await scrape(metricsUrl, `vllm:num_requests_waiting{${M}}`)) === 0
        ? true
        : undefined,
    );
    expect(server.load()).toMatchObject({ running: 0, waiting: 0, kvUsed: 0 });
    expect(await scrape(metricsUrl, `vllm:request_success_total{${M},finished_reason="abort"}`)).toBe(5);
  });

  it('counts finished requests and observes time to first token and latency', async () => {
    const { metricsUrl, chat } = await start();
    await Promise.all([1, 2, 3].map(() => readCompletionStream(chat, chatBody({ max_tokens: 5 }))));
    expect(await scrape(metricsUrl, `vllm:request_success_total{${M},finished_reason="length"}`)).toBe(3);
    expect(await scrape(metricsUrl, `vllm:generation_tokens_total{${M}}`)).toBe(15);
    expect(await scrape(metricsUrl, `vllm:time_to_first_token_seconds_count{${M}}`)).toBe(3);
    expect(await scrape(metricsUrl, `vllm:e2e_request_latency_seconds_count{${M}}`)).toBe(3);
    expect(await scrape(metricsUrl, `vllm:e2e_request_latency_seconds_bucket{${M},le="+Inf"}`)).toBe(3);
  });
});

describe('engine server: faults', () => {
  const admin = (baseUrl: string, method: string, body?: unknown) =>
    fetch(`${new URL(baseUrl).origin}/admin/faults`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it('answers 429 with retry-after and an OpenAI error body, then serves again once cleared', async () => {
    const { baseUrl, chat } = await start({ faultsEnabled: true });
    expect((await admin(baseUrl, 'POST', { status: 429, retryAfterS: 2 })).status).toBe(200);
    const res = await post(chat, chatBody());
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: expect.any(String) as string } });
    expect((await admin(baseUrl, 'DELETE')).status).toBe(200);
    expect((await readCompletionStream(chat, chatBody({ max_tokens: 3 }))).done).toBe(true);
  });

  it('answers the 5xx it is given', async () => {
    const { server, chat } = await start({ faults: { status: 500 } });
    const res = await post(chat, chatBody());
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { type: 'server_error' } });
    server.setFaults({ status: 503, fraction: 1 });
    expect((await post(chat, chatBody())).status).toBe(503);
  });

  it('cuts a stream after N tokens: the connection drops with no finish reason and no [DONE], and the slot is freed', async () => {
    // Real time and a long answer: the slot can only be free because the cut freed it.
    const { baseUrl, chat, metricsUrl } = await start({ faultsEnabled: true, speed: 1 });
    await admin(baseUrl, 'POST', { cutAfterTokens: 3 });
    const s = await readCompletionStream(chat, chatBody({ max_tokens: 100_000 }));
    expect(s.status).toBe(200);
    expect(s.pieces).toHaveLength(3);
    expect(s.finishReasons).toEqual([]);
    expect(s.done).toBe(false);
    expect(s.error).toBeDefined();
    expect(await scrape(metricsUrl, `vllm:num_requests_running{${M}}`)).toBe(0);
  });

  it('hangs: the call gets no byte until the caller gives up, while /metrics answers and /health says 503', async () => {
    const { baseUrl, chat, metricsUrl } = await start({ faultsEnabled: true });
    await admin(baseUrl, 'POST', { hang: true });
    const hung = post(chat, chatBody(), { signal: AbortSignal.timeout(500) });
    await expect(hung).rejects.toThrow(/timeout|aborted/i);
    expect((await fetch(metricsUrl)).status).toBe(200);
    expect((await fetch(`${new URL(baseUrl).origin}/health`)).status).toBe(503);
    await admin(baseUrl, 'DELETE');
    expect((await fetch(`${new URL(baseUrl).origin}/health`)).status).toBe(200);
    expect((await readCompletionStream(chat, chatBody({ max_tokens: 3 }))).done).toBe(true);
  });

  it('applies a fault to the given share of calls only', async () => {
    const draws = [0.9, 0.2, 0.8, 0.1];
    let i = 0;
    const { chat } = await start({ faults: { status: 500, fraction: 0.5 }, random: () => draws[i++ % draws.length]! });
    const statuses = [];
    for (let n = 0; n < 4; n++) {
      const res = await post(chat, chatBody({ stream: false, max_tokens: 1, seed: 1 }));
      statuses.push(res.status);
      await res.text();
    }
    expect(statuses.filter((s) => s === 500)).toHaveLength(2);
  });

  it('keeps /admin closed unless faults are enabled, and refuses a fault that makes no sense', async () => {
    const closed = await start();
    expect((await admin(closed.baseUrl, 'POST', { status: 500 })).status).toBe(404);
    const open = await start({ faultsEnabled: true });
    const res = await admin(open.baseUrl, 'POST', { status: 200 });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { message: expect.stringContaining('"status"') as string } });
  });
});

describe('engine server: refusals', () => {
  it.each([
    ['invalid JSON', '{"model":', 'invalid_json', null],
    ['no messages', { model: 'llama-3.2-1b', max_tokens: 3 }, 'invalid_request', 'messages'],
    ['max_tokens 0', chatBody({ max_tokens: 0 }), 'invalid_request', 'max_tokens'],
  ])('answers 400 for %s', async (_, body, code, param) => {
    const { chat } = await start();
    const res = await post(chat, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code, param } });
  });

  it('answers 400 for a prompt its KV cache can never hold', async () => {
    const { chat } = await start({ kvCacheTokens: 512 });
    const res = await post(chat, chatBody({ messages: [{ role: 'user', content: 'switchyard '.repeat(600) }] }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'context_length_exceeded', param: 'messages' } });
  });

  it('answers 404 for a model it does not serve', async () => {
    const { chat } = await start();
    const res = await post(chat, chatBody({ model: 'gpt-4o' }));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model', message: expect.stringContaining('gpt-4o') as string } });
  });

  it('answers 401 without the right key, while /health and /metrics stay open', async () => {
    const { chat, baseUrl, metricsUrl } = await start({ apiKey: 'sk-engine' });
    for (const headers of [{}, { authorization: 'Bearer wrong' }] as Array<Record<string, string>>) {
      const res = await post(chat, chatBody(), { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { type: 'authentication_error' } });
    }
    expect((await fetch(`${baseUrl}/models`)).status).toBe(401);
    const s = await readCompletionStream(chat, chatBody({ max_tokens: 2 }), { headers: { authorization: 'Bearer sk-engine' } });
    expect(s.done).toBe(true);
    expect((await fetch(metricsUrl)).status).toBe(200);
    expect((await fetch(`${new URL(baseUrl).origin}/health`)).status).toBe(200);
  });
});

import { hashApiKey } from '@switchyard/auth';
import { jetstreamManager } from '@switchyard/bus';
import { decodeEvent, streams } from '@switchyard/contracts';
import { waitFor } from '@switchyard/testing';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

/**
 * The official `openai` package, unchanged, against the whole system over HTTP: what an app
 * developer who points an SDK at Switchyard gets, the error paths included.
 */

let system: RunningSystem;

beforeAll(async () => {
  system = await startSystem({
    tenants: [{ tenant: 'slow-lane', limits: { realtime: { requestsPerMinute: 1, tokensPerMinute: 100_000 } } }],
  });
  for (const tenant of ['broke', 'chooser', 'featured']) await system.tenants.putTenant({ tenant });
  await system.setBudget('broke', { hardLimitMicros: 1 });
  await system.setBudget('featured', { feature: 'search', hardLimitMicros: 1 });
  // Billing publishes budgets; admission enforces them once it has read them.
  await waitFor('admission enforces the budgets', async () =>
    (await system.admissions[0]!.budgetSpend('broke')) && (await system.admissions[0]!.budgetSpend('featured', 'search')) ? true : undefined,
  );
}, 60_000);
afterAll(async () => {
  await system?.stop();
});

/** Every HTTP request an SDK client sends, so a test can tell whether it retried. */
interface CountingClient {
  readonly openai: OpenAI;
  readonly sent: () => number;
}

/** An SDK client with a fresh key of `tenant` (default retries, as an app would have), once admission knows the key. */
async function sdkFor(tenant = 'acme', options: { headers?: Record<string, string> } = {}): Promise<CountingClient> {
  const apiKey = `sy_test_${tenant}_${Math.random().toString(36).slice(2)}`;
  await system.tenants.putKey({ tenant, keyId: `${tenant}-${Math.random().toString(36).slice(2, 8)}`, keyHash: hashApiKey(apiKey) });
  await waitFor('key propagated', async () =>
    (await fetch(`${system.httpUrl}/models`, { headers: { authorization: `Bearer ${apiKey}` } })).ok ? true : undefined,
  );
  let sent = 0;
  const openai = new OpenAI({
    apiKey,
    baseURL: system.httpUrl,
    defaultHeaders: options.headers,
    fetch: (url, init) => (sent++, fetch(url, init)),
  });
  return { openai, sent: () => sent };
}

const hello = [{ role: 'user' as const, content: 'hello' }];

const requestsPublished = async () => (await (await jetstreamManager(system.nc)).streams.info(streams.REQUESTS.name)).state.messages;

const ledgerTransactions = async (tenant: string) => {
  const [row] = await system.sql<{ n: string }[]>`SELECT count(DISTINCT id) AS n FROM ledger_transactions WHERE tenant = ${tenant}`;
  return Number(row!.n);
};

describe('chat completions through the official SDK', () => {
  it('answers JSON, a stream without usage, and a stream with usage in a last chunk without choices', async () => {
    const { openai } = await sdkFor();
    const completion = await openai.chat.completions.create({ model: 'chat-large', messages: hello, max_tokens: 8, seed: 3 });
    expect(completion.id).toMatch(/^chatcmpl-req_/);
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]!.message.content!.split(' ')).toHaveLength(8);
    expect(completion.choices[0]!.finish_reason).toBe('length');
    expect(completion.usage).toMatchObject({ completion_tokens: 8 });

    const plain = await openai.chat.completions.create({ model: 'chat-large', messages: hello, max_tokens: 8, seed: 3, stream: true });
    let text = '';
    const plainChunks = [];
    for await (const chunk of plain) {
      plainChunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(completion.choices[0]!.message.content);
    expect(plainChunks.every((c) => !c.usage)).toBe(true);
    expect(plainChunks.at(-1)!.choices[0]!.finish_reason).toBe('length');

    const withUsage = await openai.chat.completions.create({
      model: 'chat-large',
      messages: hello,
      max_tokens: 8,
      seed: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of withUsage) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(completion.usage);
    expect(chunks.slice(0, -1).every((c) => !c.usage && c.choices.length === 1)).toBe(true);
  });

  it('ends the answer before the first stop sequence with finish_reason "stop", and counts only what was generated', async () => {
    const { openai } = await sdkFor();
    const params = { model: 'llama-3.1-8b', messages: hello, max_tokens: 30, seed: 21 };
    const full = (await openai.chat.completions.create(params)).choices[0]!.message.content!;
    const stop = ` ${full.split(' ')[10]}`;
    const before = full.slice(0, full.indexOf(stop));

    const stopped = await openai.chat.completions.create({ ...params, stop: [stop, 'never appears'] });
    expect(stopped.choices[0]).toMatchObject({ message: { content: before }, finish_reason: 'stop' });
    // The words before the sequence, and the token that completed it.
    expect(stopped.usage!.completion_tokens).toBe(before.split(' ').length + 1);

    let streamed = '';
    let finish: string | null = null;
    for await (const chunk of await openai.chat.completions.create({ ...params, stop, stream: true })) {
      streamed += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(streamed).toBe(before);
    expect(finish).toBe('stop');
  });

  it('answers n choices, each a request billed once: usage and the ledger count all of them', async () => {
    const { openai } = await sdkFor('chooser');
    const one = await openai.chat.completions.create({ model: 'llama-3.1-8b', messages: hello, max_tokens: 5, seed: 40 });
    const three = await openai.chat.completions.create({ model: 'llama-3.1-8b', messages: hello, max_tokens: 5, seed: 40, n: 3 });
    expect(three.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(three.choices[0]!.message.content).toBe(one.choices[0]!.message.content);
    expect(new Set(three.choices.map((c) => c.message.content)).size).toBe(3);
    expect(three.usage).toEqual({
      prompt_tokens: 3 * one.usage!.prompt_tokens,
      completion_tokens: 15,
      total_tokens: 3 * one.usage!.total_tokens,
      // A prompt shorter than one 64-token block is never served from the prefix cache.
      prompt_tokens_details: { cached_tokens: 0 },
    });
    await waitFor('all four requests billed', async () => ((await ledgerTransactions('chooser')) >= 4 ? true : undefined));
    expect(await ledgerTransactions('chooser')).toBe(4);

    // Streamed, the choices' chunks come interleaved, each with its index.
    const texts = ['', '', ''];
    const finishes: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined;
    const stream = await openai.chat.completions.create({
      model: 'llama-3.1-8b',
      messages: hello,
      max_tokens: 5,
      seed: 40,
      n: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        texts[c.index] += c.delta.content ?? '';
        if (c.finish_reason) finishes[c.index] = c.finish_reason;
      }
      usage = chunk.usage ?? usage;
    }
    expect(texts).toEqual(three.choices.map((c) => c.message.content));
    expect(finishes).toEqual(['length', 'length', 'length']);
    expect(usage).toEqual(three.usage);
    await waitFor('the streamed three billed', async () => ((await ledgerTransactions('chooser')) >= 7 ? true : undefined));
    expect(await ledgerTransactions('chooser')).toBe(7);
  });

  it('takes a tool-using history, and refuses an image part by name', async () => {
    const { openai } = await sdkFor();
    const answer = await openai.chat.completions.create({
      model: 'chat-large',
      max_tokens: 3,
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18 C, clear' },
      ],
    });
    expect(answer.choices[0]!.message.content!.split(' ')).toHaveLength(3);

    const refused = await openai.chat.completions
      .create({
        model: 'chat-large',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as Error).message).toContain('part of type "image_url"');
  });

  it('records the end user the caller names on its admission decision', async () => {
    const { openai } = await sdkFor();
    const seen: string[] = [];
    const sub = system.nc.subscribe('decisions.admission.acme', {
      callback: (_e, m) => {
        const payload = decodeEvent(m.data).payload;
        if (payload?.$case === 'decision') seen.push(`${payload.decision.action}:${payload.decision.user}`);
      },
    });
    await system.nc.flush();
    await openai.chat.completions.create({ model: 'chat-large', messages: hello, max_tokens: 1, user: 'end-user-42' });
    await waitFor('the admit decision', () => (seen.includes('admit:end-user-42') ? true : undefined));
    sub.unsubscribe();
  });
});

describe('text completions through the official SDK', () => {
  it('answers JSON and a stream with the same text', async () => {
    const { openai } = await sdkFor();
    const completion = await openai.completions.create({ model: 'llama-3.1-8b', prompt: 'Once upon a time', max_tokens: 6, seed: 8 });
    expect(completion).toMatchObject({ object: 'text_completion', choices: [{ index: 0, finish_reason: 'length' }], usage: { completion_tokens: 6 } });
    expect(completion.choices[0]!.text.split(' ')).toHaveLength(6);

    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    const stream = await openai.completions.create({
      model: 'llama-3.1-8b',
      prompt: 'Once upon a time',
      max_tokens: 6,
      seed: 8,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(completion.choices[0]!.text);
    expect(finish).toBe('length');
    expect(usage).toEqual(completion.usage);
  });
});

describe('models through the official SDK', () => {
  it('lists every name a caller may send with when it appeared, and retrieves one; names that lead to no served model are not listed', async () => {
    const { openai } = await sdkFor();
    const ids = [];
    const now = Date.now() / 1000;
    for await (const model of openai.models.list()) {
      ids.push(model.id);
      expect(model.created).toBeGreaterThan(now - 3_600);
      expect(model.created).toBeLessThanOrEqual(now);
    }
    // The test fleet serves Llama 3.1 8B only: chat-small (Llama 3.2 1B) and auto's small pick are not callable here.
    expect(ids.sort()).toEqual(['auto', 'auto:large', 'chat-large', 'llama-3.1-8b']);
    expect(await openai.models.retrieve('chat-large')).toMatchObject({ id: 'chat-large', object: 'model' });
    expect(await openai.models.retrieve('auto:large')).toMatchObject({ id: 'auto:large', object: 'model' });
  });

  it('answers an unknown model with NotFoundError model_not_found', async () => {
    const { openai } = await sdkFor();
    const error = await openai.models.retrieve('gpt-4o').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'model_not_found' });
  });
});

describe('errors as OpenAI sends them, through the official SDK', () => {
  it('refuses an unknown model with 404 model_not_found listing the models, once, spending and publishing nothing', async () => {
    const { openai, sent } = await sdkFor('slow-lane');
    const before = await requestsPublished();
    for (let i = 0; i < 3; i++) {
      const error = await openai.chat.completions.create({ model: 'gpt-4o', messages: hello }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect(error).toMatchObject({ status: 404, code: 'model_not_found', message: expect.stringContaining('available: auto') });
    }
    // No retries: three calls, three requests.
    expect(sent()).toBe(3);
    expect(await requestsPublished()).toBe(before);
    // The tenant's one request a minute is still there.
    expect((await openai.chat.completions.create({ model: 'chat-large', messages: hello, max_tokens: 1 })).choices).toHaveLength(1);
    const limited = await fetch(`${system.httpUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${openai.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat-large', messages: hello, max_tokens: 1 }),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
  });

  it('refuses a call over the budget with 429 insufficient_quota, without a retry', async () => {
    const { openai, sent } = await sdkFor('broke');
    const error = await openai.chat.completions.create({ model: 'chat-large', messages: hello, max_tokens: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'insufficient_quota', type: 'insufficient_quota' });
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBeNull();
    expect(sent()).toBe(1);
  });

  it('bills the feature x-switchyard-feature names: its budget refuses what the tenant budget allows', async () => {
    const plain = await sdkFor('featured');
    const search = await sdkFor('featured', { headers: { 'x-switchyard-feature': 'search' } });
    expect((await plain.openai.chat.completions.create({ model: 'chat-large', messages: hello, max_tokens: 2 })).choices).toHaveLength(1);
    const error = await search.openai.chat.completions.create({ model: 'chat-large', messages: hello, max_tokens: 2 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429, code: 'insufficient_quota', message: expect.stringContaining('search') });
  });

  it('refuses a prompt over the limit with 400 context_length_exceeded', async () => {
    const { openai } = await sdkFor();
    const error = await openai.chat.completions
      .create({ model: 'chat-large', messages: [{ role: 'user', content: 'word '.repeat(9_000) }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, code: 'context_length_exceeded' });
  });

  it('refuses a malformed x-switchyard-timeout-ms with 400 naming the bounds, and honours a good one', async () => {
    const bad = await sdkFor('acme', { headers: { 'x-switchyard-timeout-ms': 'soon' } });
    const error = await bad.openai.chat.completions.create({ model: 'chat-large', messages: hello }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toContain('x-switchyard-timeout-ms must be a whole number of milliseconds from 1 to 600000');
    const good = await sdkFor('acme', { headers: { 'x-switchyard-timeout-ms': '30000' } });
    expect((await good.openai.chat.completions.create({ model: 'chat-large', messages: hello, max_tokens: 2 })).choices).toHaveLength(1);
  });

  it('gives up at the x-switchyard-timeout-ms deadline with 504, which the SDK does not retry', async () => {
    // 1 ms cannot cover the trip through scheduler, batcher and worker and back.
    const hurried = await sdkFor('acme', { headers: { 'x-switchyard-timeout-ms': '1' } });
    const error = await hurried.openai.chat.completions.create({ model: 'chat-large', messages: hello, max_tokens: 2_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error).toMatchObject({ status: 504 });
    expect(hurried.sent()).toBe(1);
  });

  it('answers a route it does not serve in the OpenAI error shape', async () => {
    const { openai } = await sdkFor();
    const error = await openai.embeddings.create({ model: 'chat-large', input: 'hi' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'not_found', message: expect.stringContaining('no such route') });
  });
});

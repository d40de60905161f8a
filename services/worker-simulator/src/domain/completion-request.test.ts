import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_TOKENS, parseCompletionRequest } from './completion-request.js';

const chat = (body: unknown) => parseCompletionRequest('chat', JSON.stringify(body));
const refusal = (r: ReturnType<typeof chat>) =>
  r.ok ? undefined : { status: r.error.status, param: r.error.body.error.param, message: r.error.body.error.message };

describe('parseCompletionRequest', () => {
  it('reads the body the engine adapter sends', () => {
    const r = chat({
      model: 'llama-3.1-8b',
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
      seed: 7,
      stop: ['\n'],
    });
    expect(r).toEqual({
      ok: true,
      request: { kind: 'chat', model: 'llama-3.1-8b', promptText: 'hello', maxTokens: 12, stream: true, includeUsage: true, seed: 7, stop: ['\n'] },
    });
  });

  it('defaults max_tokens, streaming and usage, and takes max_completion_tokens over max_tokens', () => {
    const r = chat({ messages: [{ role: 'user', content: 'hi' }] });
    expect(r.ok && r.request).toMatchObject({ model: undefined, maxTokens: DEFAULT_MAX_TOKENS, stream: false, includeUsage: false, seed: undefined, stop: [] });
    const both = chat({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, max_completion_tokens: 9 });
    expect(both.ok && both.request.maxTokens).toBe(9);
  });

  it('joins every message, text parts included, into the text its prompt tokens are counted from', () => {
    const r = chat({
      messages: [
        { role: 'system', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      ],
    });
    expect(r.ok && r.request.promptText).toBe('be brief\nab');
  });

  it('reads a completion prompt, alone or as an array of one', () => {
    expect(parseCompletionRequest('text', JSON.stringify({ prompt: 'once' }))).toMatchObject({ ok: true, request: { kind: 'text', promptText: 'once' } });
    expect(parseCompletionRequest('text', JSON.stringify({ prompt: ['once'] }))).toMatchObject({ ok: true, request: { promptText: 'once' } });
    expect(refusal(parseCompletionRequest('text', JSON.stringify({ prompt: [1, 2, 3] })))).toMatchObject({ status: 400, param: 'prompt' });
  });

  it.each([
    ['invalid JSON', '{"messages": [', null],
    ['a body that is not an object', '[1]', null],
    ['no messages', JSON.stringify({ model: 'm' }), 'messages'],
    ['empty messages', JSON.stringify({ messages: [] }), 'messages'],
    ['a message without a role', JSON.stringify({ messages: [{ content: 'x' }] }), 'messages'],
    ['max_tokens 0', JSON.stringify({ messages: [{ role: 'user', content: 'x' }], max_tokens: 0 }), 'max_tokens'],
    ['fractional max_tokens', JSON.stringify({ messages: [{ role: 'user', content: 'x' }], max_tokens: 1.5 }), 'max_tokens'],
    ['stop that is a number', JSON.stringify({ messages: [{ role: 'user', content: 'x' }], stop: 3 }), 'stop'],
    ['stream that is a string', JSON.stringify({ messages: [{ role: 'user', content: 'x' }], stream: 'yes' }), 'stream'],
    ['n of 2', JSON.stringify({ messages: [{ role: 'user', content: 'x' }], n: 2 }), 'n'],
  ])('refuses %s with a 400 naming the field', (_, raw, param) => {
    const r = refusal(parseCompletionRequest('chat', raw));
    expect(r).toMatchObject({ status: 400, param });
    if (param) expect(r?.message).toContain(param);
  });
});

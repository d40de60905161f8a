import { describe, expect, it } from 'vitest';
import { parseBatchLine } from './batch-input.js';

const limits = { maxBodyBytes: 200, maxCustomIdLength: 16 };
const line = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ custom_id: 'r-1', method: 'POST', url: '/v1/chat/completions', body: { model: 'chat-small', messages: [] }, ...over });

describe('parseBatchLine', () => {
  it('accepts a well-formed line and keeps its body as JSON text', () => {
    expect(parseBatchLine(line(), '/v1/chat/completions', limits)).toEqual({
      ok: true,
      customId: 'r-1',
      body: '{"model":"chat-small","messages":[]}',
    });
  });

  it.each([
    ['{"custom_id": "r-1", ', 'invalid_json', null],
    ['[1,2]', 'invalid_json', null],
    [line({ custom_id: '' }), 'invalid_request', null],
    [line({ custom_id: 'x'.repeat(17) }), 'invalid_request', null],
    [line({ method: 'GET' }), 'invalid_request', 'r-1'],
    [line({ url: '/v1/completions' }), 'wrong_endpoint', 'r-1'],
    [line({ body: 'hello' }), 'invalid_request', 'r-1'],
    [line({ body: { model: 'm', stream: true } }), 'invalid_request', 'r-1'],
    [line({ body: { model: 'm', prompt: 'x'.repeat(300) } }), 'body_too_large', 'r-1'],
  ])('refuses %s as %s', (text, code, customId) => {
    const parsed = parseBatchLine(text, '/v1/chat/completions', limits);
    expect(parsed).toMatchObject({ ok: false, code, customId });
    expect(parsed.ok ? '' : parsed.message.length).toBeGreaterThan(10);
  });
});

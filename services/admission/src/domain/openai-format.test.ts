import { describe, expect, it } from 'vitest';
import { chatToGeneration, clientErrorRefusal, httpRefusal } from './openai-format.js';

const body = { model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }] };
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return expect.fail('expected a refusal');
};

describe('chatToGeneration', () => {
  it('renders messages and takes seed and max_tokens', () => {
    expect(chatToGeneration({ ...body, seed: 7, max_tokens: 5 }, {})).toMatchObject({ prompt: 'user: hi', seed: 7, maxTokens: 5, stream: false });
    expect(chatToGeneration({ ...body, seed: null }, {}).seed).toBe(0);
  });

  it('refuses a message that is not an object as INVALID_ARGUMENT, not a crash', () => {
    for (const m of [null, 3, 'hi']) {
      expect(refusal(() => chatToGeneration({ ...body, messages: [m] }, {}))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: 'messages[0] must be an object with "role" and "content"',
      });
    }
  });

  it('refuses a seed that is not a number instead of ignoring it', () => {
    expect(refusal(() => chatToGeneration({ ...body, seed: '42' }, {}))).toMatchObject({ code: 'INVALID_ARGUMENT', message: '"seed" must be an integer' });
  });
});

describe('refusals of the HTTP layer', () => {
  it('are in the OpenAI error shape', () => {
    expect(httpRefusal(404, 'no such route')).toEqual({ error: { message: 'no such route', type: 'invalid_request_error', code: 'not_found', param: null } });
  });

  it('map node parser errors to 431, 408 or 400', () => {
    expect(clientErrorRefusal('HPE_HEADER_OVERFLOW').status).toBe(431);
    expect(clientErrorRefusal('ERR_HTTP_REQUEST_TIMEOUT').status).toBe(408);
    expect(clientErrorRefusal('HPE_UNEXPECTED_CONTENT_LENGTH')).toMatchObject({ status: 400, message: expect.stringContaining('Content-Length') });
  });
});

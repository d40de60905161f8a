import { describe, expect, it } from 'vitest';
import { clientErrorRefusal, httpRefusal, openAiError, retryAfterSeconds } from './errors.js';

describe('openAiError', () => {
  it('sends the reason OpenAI names as the code, with its type and status', () => {
    expect(openAiError('NOT_FOUND', 'no such model', 'model_not_found')).toEqual({
      status: 404,
      body: { error: { message: 'no such model', type: 'invalid_request_error', code: 'model_not_found', param: 'model' } },
    });
    expect(openAiError('RESOURCE_EXHAUSTED', 'budget', 'insufficient_quota')).toMatchObject({
      status: 429,
      body: { error: { type: 'insufficient_quota', code: 'insufficient_quota' } },
    });
    expect(openAiError('INVALID_ARGUMENT', 'too long', 'context_length_exceeded')).toMatchObject({
      status: 400,
      body: { error: { type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' } },
    });
  });

  it('falls back to the domain code in lower case', () => {
    expect(openAiError('RESOURCE_EXHAUSTED', 'slow down')).toMatchObject({
      status: 429,
      body: { error: { type: 'rate_limit_error', code: 'resource_exhausted' } },
    });
  });
});

describe('retryAfterSeconds', () => {
  it('rounds up to whole seconds, and is absent without a hint (never an empty header)', () => {
    expect(retryAfterSeconds(1_200)).toBe('2');
    expect(retryAfterSeconds(1)).toBe('1');
    expect(retryAfterSeconds(undefined)).toBeUndefined();
    expect(retryAfterSeconds(0)).toBeUndefined();
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

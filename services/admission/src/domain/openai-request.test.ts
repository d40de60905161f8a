import { Tier } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { refusal } from './refusal.fixture.js';
import { commonCall, deadlineFromHeader, finishOnDisconnect } from './openai-request.js';

const body = { model: 'llama-3.1-8b' };

describe('commonCall', () => {
  it('takes stop as a string or an array, n, user, and the feature and tier headers', () => {
    const call = commonCall({ ...body, stop: '\n', n: 3, user: 'end-user-7' }, 'p', { feature: 'search', tier: 'batch' }, 0);
    expect(call).toMatchObject({ choices: 3, stream: false, includeUsage: false, deadlineUnixMs: 0 });
    expect(call.input).toMatchObject({ stop: ['\n'], user: 'end-user-7', feature: 'search', tier: Tier.TIER_BATCH });
    expect(commonCall({ ...body, stop: ['a', 'b'] }, 'p', {}, 0).input.stop).toEqual(['a', 'b']);
    expect(commonCall({ ...body, stop: null, n: null }, 'p', {}, 0)).toMatchObject({ choices: 1, input: { stop: [] } });
  });

  it('refuses fields of the wrong type instead of ignoring them', () => {
    expect(refusal(() => commonCall({ ...body, stop: 3 }, 'p', {}, 0))).toMatchObject({ message: '"stop" must be a string or an array of up to 4 strings' });
    expect(refusal(() => commonCall({ ...body, n: 9 }, 'p', {}, 0))).toMatchObject({ message: '"n" must be an integer from 1 to 8' });
    expect(refusal(() => commonCall({ ...body, n: 1.5 }, 'p', {}, 0))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(refusal(() => commonCall({ ...body, user: 7 }, 'p', {}, 0))).toMatchObject({ message: '"user" must be a string' });
    expect(refusal(() => commonCall({ ...body, stream: 'yes' }, 'p', {}, 0))).toMatchObject({ message: '"stream" must be true or false' });
  });

  it('honours stream_options.include_usage only on a stream', () => {
    expect(commonCall({ ...body, stream: true, stream_options: { include_usage: true } }, 'p', {}, 0).includeUsage).toBe(true);
    expect(commonCall({ ...body, stream: true, stream_options: {} }, 'p', {}, 0).includeUsage).toBe(false);
    expect(refusal(() => commonCall({ ...body, stream_options: { include_usage: true } }, 'p', {}, 0))).toMatchObject({
      message: '"stream_options" is only allowed when "stream" is true',
    });
  });
});

describe('deadlineFromHeader', () => {
  it('sets a deadline that many ms from now, none without the header', () => {
    expect(deadlineFromHeader('2500', 1_000)).toBe(3_500);
    expect(deadlineFromHeader(undefined, 1_000)).toBe(0);
  });

  it('refuses a malformed or out-of-range value with the bounds', () => {
    for (const v of ['', 'abc', '1.5', '-3', '0', '600001', '1e3']) {
      expect(refusal(() => deadlineFromHeader(v, 0))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: 'header x-switchyard-timeout-ms must be a whole number of milliseconds from 1 to 600000',
      });
    }
  });
});

describe('finishOnDisconnect', () => {
  it('cancels on disconnect unless asked to finish, and finishing needs an idempotency key', () => {
    expect(finishOnDisconnect(undefined, '')).toBe(false);
    expect(finishOnDisconnect('cancel', 'k')).toBe(false);
    expect(finishOnDisconnect('finish', 'k')).toBe(true);
    expect(refusal(() => finishOnDisconnect('finish', ''))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/Idempotency-Key/) });
    expect(refusal(() => finishOnDisconnect('later', 'k'))).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/"cancel" or "finish"/) });
  });
});

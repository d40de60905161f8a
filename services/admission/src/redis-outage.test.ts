import { describe, expect, it } from 'vitest';
import { isRedisOutage, unavailableOnRedisOutage } from './redis-outage.js';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('isRedisOutage', () => {
  it('knows the ways ioredis says it has no connection, and a Redis that cannot serve yet', () => {
    expect(isRedisOutage(named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 1).'))).toBe(true);
    expect(isRedisOutage(new Error('Connection is closed.'))).toBe(true);
    expect(isRedisOutage(named('ReplyError', 'LOADING Redis is loading the dataset in memory'))).toBe(true);
  });

  it('leaves a script bug or a programming error alone', () => {
    expect(isRedisOutage(named('ReplyError', 'ERR Error running script: attempt to compare nil with number'))).toBe(false);
    expect(isRedisOutage(new TypeError('Cannot read properties of undefined'))).toBe(false);
  });
});

describe('unavailableOnRedisOutage', () => {
  it('turns an outage into UNAVAILABLE with a retry hint and passes results and other errors through', async () => {
    const store = unavailableOnRedisOutage({
      ok: async (n: number) => n + 1,
      down: async () => Promise.reject(new Error('Connection is closed.')),
      buggy: async () => Promise.reject(new TypeError('boom')),
    });
    expect(await store.ok(1)).toBe(2);
    await expect(store.down()).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true, retryAfterMs: 1_000 });
    await expect(store.buggy()).rejects.toBeInstanceOf(TypeError);
  });
});

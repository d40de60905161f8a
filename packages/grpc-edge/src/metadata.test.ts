import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { authorizationOf } from './metadata.js';

describe('authorizationOf', () => {
  it('reads the one authorization value of a call', () => {
    const m = new Metadata();
    m.set('authorization', 'Bearer k1');
    expect(authorizationOf(m)).toBe('Bearer k1');
    expect(authorizationOf(new Metadata())).toBeUndefined();
  });

  it('refuses two authorization values as UNAUTHENTICATED instead of picking one', () => {
    const m = new Metadata();
    m.add('authorization', 'Bearer k1');
    m.add('authorization', 'Bearer k2');
    expect(() => authorizationOf(m)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/send exactly one/) }));
  });
});

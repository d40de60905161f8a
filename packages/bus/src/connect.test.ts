import { describe, expect, it } from 'vitest';
import { parseNatsUrl } from './connect.js';

describe('parseNatsUrl', () => {
  it('leaves a URL without credentials as it is', () => {
    expect(parseNatsUrl('nats://127.0.0.1:4222')).toEqual({ servers: ['nats://127.0.0.1:4222'] });
  });

  it('takes the user and password out of the address, decoded', () => {
    expect(parseNatsUrl('nats://worker-simulator:p%40ss%3Aword@nats:4222')).toEqual({
      servers: ['nats://nats:4222'],
      user: 'worker-simulator',
      pass: 'p@ss:word',
    });
    expect(parseNatsUrl('analyst:x@10.0.0.1:4222')).toEqual({ servers: ['10.0.0.1:4222'], user: 'analyst', pass: 'x' });
  });

  it('shares one user across the members of a cluster list', () => {
    expect(parseNatsUrl('nats://billing:pw@nats-1:4222, nats://nats-2:4222,nats://billing:pw@nats-3:4222')).toEqual({
      servers: ['nats://nats-1:4222', 'nats://nats-2:4222', 'nats://nats-3:4222'],
      user: 'billing',
      pass: 'pw',
    });
  });

  it('refuses two different users in one list', () => {
    expect(() => parseNatsUrl('nats://a:1@nats-1:4222,nats://b:2@nats-2:4222')).toThrow(/different credentials/);
  });
});

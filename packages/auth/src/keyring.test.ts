import { describe, expect, it } from 'vitest';
import { createKeyring, generateApiKey, hashApiKey, parseApiKeys } from './keyring.js';

describe('keyring', () => {
  const key = generateApiKey();
  const ring = createKeyring(parseApiKeys(`acme:k1:${hashApiKey(key)},ops:k2:${hashApiKey('op-key')}:operator`));

  it('resolves a valid bearer key to its tenant', () => {
    expect(ring.authenticate(`Bearer ${key}`)).toEqual({ tenant: 'acme', keyId: 'k1', operator: false, tiers: [], feature: '' });
    expect(ring.authenticate('bearer op-key').operator).toBe(true);
  });

  it('refuses a missing or wrong key with UNAUTHENTICATED and a hint', () => {
    expect(() => ring.authenticate(undefined)).toThrow(/missing API key/);
    expect(() => ring.authenticate(`Bearer ${key}x`)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('refuses two keys joined in one header with a message that says so', () => {
    expect(() => ring.authenticate(`Bearer ${key}, Bearer op-key`)).toThrow(
      expect.objectContaining({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/more than one authorization value/) }),
    );
  });

  it('refuses a revoked key like an unknown one', () => {
    const revocable = createKeyring([{ tenant: 'acme', keyId: 'k9', keyHash: hashApiKey('k9-secret') }]);
    expect(revocable.authenticate('Bearer k9-secret').keyId).toBe('k9');
    revocable.put({ tenant: 'acme', keyId: 'k9', keyHash: hashApiKey('k9-secret'), revoked: true });
    expect(() => revocable.authenticate('Bearer k9-secret')).toThrow(/revoked/);
  });

  it('rejects malformed key lists instead of running without auth', () => {
    expect(() => parseApiKeys('acme:k1:not-a-hash')).toThrow(/tenant:keyId:sha256hex/);
  });
});

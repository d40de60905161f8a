import { describe, expect, it } from 'vitest';
import { isTenantId, TENANT_ID } from './tenant-id.js';

describe('tenant id', () => {
  it('accepts 1 to 64 letters, digits, "_" and "-"', () => {
    for (const id of ['a', 'acme', 'Acme_Corp-2', '0', '_', '-', 'x'.repeat(64)]) expect(isTenantId(id), id).toBe(true);
  });

  it('rejects the empty id, 65 characters, separators, wildcards and other characters', () => {
    for (const id of ['', 'x'.repeat(65), 'a.b', 'a*', 'a>', 'a b', 'a/b', 'a:b', 'é', 'acme\n']) expect(isTenantId(id), JSON.stringify(id)).toBe(false);
  });

  it('is anchored, so zod and plain tests agree', () => {
    expect(TENANT_ID.source.startsWith('^')).toBe(true);
    expect(TENANT_ID.source.endsWith('$')).toBe(true);
  });
});

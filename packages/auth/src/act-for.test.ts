import { describe, expect, it } from 'vitest';
import { actFor } from './act-for.js';

const tenantKey = { tenant: 'acme', keyId: 'acme-1', operator: false, tiers: ['realtime' as const], feature: 'chat' };
const operatorKey = { ...tenantKey, tenant: 'ops', keyId: 'ops-1', operator: true, tiers: [] };

describe('actFor', () => {
  it('leaves a call without the header as the key says', () => {
    expect(actFor(tenantKey, undefined)).toBe(tenantKey);
    expect(actFor(operatorKey, '')).toBe(operatorKey);
  });

  it('lets an operator key act for a tenant, without operator rights', () => {
    expect(actFor(operatorKey, 'globex')).toEqual({ tenant: 'globex', keyId: 'ops-1', operator: false, tiers: [], feature: '' });
  });

  it('refuses a tenant key that names another tenant, and a malformed tenant', () => {
    expect(() => actFor(tenantKey, 'globex')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED' }));
    expect(() => actFor(operatorKey, 'not a tenant!')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

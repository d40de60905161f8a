import { DomainError, isTenantId } from '@switchyard/contracts';
import type { Principal } from './keyring.js';

/** Header (HTTP) and metadata key (gRPC) an operator key names a tenant in. */
export const ACT_FOR_TENANT_HEADER = 'x-switchyard-tenant';

/**
 * The principal a call runs as. An operator key may act for a tenant (the batch service
 * sends each line of a batch for the tenant that submitted it): the call is then that
 * tenant's in every respect (limits, budget, bill) and carries no operator rights. Any
 * other key naming a tenant is refused, so a tenant's key cannot spend another's budget.
 */
export function actFor(principal: Principal, tenant: string | undefined): Principal {
  if (tenant === undefined || tenant === '') return principal;
  if (!principal.operator) {
    throw new DomainError('PERMISSION_DENIED', `only operator keys may act for a tenant; drop the ${ACT_FOR_TENANT_HEADER} header`);
  }
  if (!isTenantId(tenant)) throw new DomainError('INVALID_ARGUMENT', `${ACT_FOR_TENANT_HEADER} must be a tenant id: up to 64 letters, digits, "_" or "-"`);
  return { tenant, keyId: principal.keyId, operator: false, tiers: [], feature: '' };
}

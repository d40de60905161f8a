import { status, type ServiceError } from '@grpc/grpc-js';
import { hashApiKey } from '@switchyard/auth';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import type { RunningSystem } from './system.js';

/**
 * A client of a new API key for `tenant`, once admission knows the key (a probe answers
 * NOT_FOUND rather than UNAUTHENTICATED). The caller closes it.
 */
export async function tenantClient(system: Pick<RunningSystem, 'tenants' | 'admissionAddress'>, tenant: string): Promise<SwitchyardClient> {
  const apiKey = `sy_test_${tenant}_${Math.random().toString(36).slice(2)}`;
  await system.tenants.putKey({ tenant, keyId: `${tenant}-${Math.random().toString(36).slice(2, 8)}`, keyHash: hashApiKey(apiKey) });
  const client = createSwitchyardClient({ address: system.admissionAddress, apiKey });
  await waitFor('key propagated', () => client.getRequest('req_none').catch((e: ServiceError) => (e.code === status.NOT_FOUND ? true : undefined)));
  return client;
}

/**
 * Clients of new keys for a test file: `clientFor(tenant)` makes one (see {@link tenantClient}),
 * `track` adds one made otherwise, and `closeAll` (in `afterAll`) closes every one.
 */
export function tenantClients(system: () => Pick<RunningSystem, 'tenants' | 'admissionAddress'>) {
  const clients: SwitchyardClient[] = [];
  const track = (client: SwitchyardClient): SwitchyardClient => (clients.push(client), client);
  return {
    track,
    clientFor: async (tenant: string): Promise<SwitchyardClient> => track(await tenantClient(system(), tenant)),
    closeAll: () => clients.forEach((c) => c.close()),
  };
}

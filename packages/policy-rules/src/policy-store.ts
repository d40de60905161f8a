import { mirrorBucket, type KV } from '@switchyard/bus';
import { DomainError } from '@switchyard/contracts';
import { policyFromJson, type PolicyDocument } from './domain/policy-document.js';
import { DEFAULT_POLICY, type PolicySet } from './domain/policy-set.js';

/** What happened to a tenant's stored policy. */
export type PolicyChange =
  | { readonly tenant: string; readonly result: 'applied'; readonly version: string }
  | { readonly tenant: string; readonly result: 'rejected'; readonly error: unknown }
  | { readonly tenant: string; readonly result: 'removed' };

export interface PolicyStoreOptions {
  /** The `policies` bucket: one JSON policy document per tenant, keyed by tenant. */
  readonly kv: KV;
  /** Told about every change; a rejected document leaves the tenant on its last good policy. */
  readonly onChange?: (change: PolicyChange) => void;
  /** The policy of tenants with none stored. Default `DEFAULT_POLICY`. */
  readonly fallback?: PolicySet;
  /** The watch failed: policies stay as they were until the process restarts. */
  readonly onError?: (error: unknown) => void;
}

export interface PolicyStore {
  /** The tenant's compiled policy, or the fallback; never waits on I/O. */
  policyFor(tenant: string): PolicySet;
  stop(): Promise<void>;
}

const decoder = new TextDecoder();
const TENANT = /^[A-Za-z0-9_-]+$/;

/** The key of a tenant's policy; tenants are subject tokens, so they are valid keys. */
export function policyKey(tenant: string): string {
  if (!TENANT.test(tenant)) throw new DomainError('INVALID_ARGUMENT', `tenant "${tenant}" is not a tenant name: use letters, digits, "-" or "_"`);
  return tenant;
}

/**
 * Mirrors the `policies` bucket in memory, live: each stored document is validated and
 * compiled once, when it arrives, so a check only looks its tenant up. Resolves once the
 * bucket's current contents are loaded.
 */
export async function openPolicyStore(options: PolicyStoreOptions): Promise<PolicyStore> {
  const { kv } = options;
  const fallback = options.fallback ?? DEFAULT_POLICY;
  const onChange = options.onChange ?? (() => {});
  const compiled = new Map<string, PolicySet>();
  // The JSON last applied per tenant: a redelivered entry (after a reconnect) is not compiled again.
  const applied = new Map<string, string>();

  const apply = (tenant: string, value: Uint8Array | undefined) => {
    if (value === undefined) {
      if (compiled.delete(tenant)) onChange({ tenant, result: 'removed' });
      applied.delete(tenant);
      return;
    }
    const json = decoder.decode(value);
    if (applied.get(tenant) === json) return;
    try {
      const { policy } = policyFromJson(json);
      compiled.set(tenant, policy);
      applied.set(tenant, json);
      onChange({ tenant, result: 'applied', version: policy.version });
    } catch (error) {
      onChange({ tenant, result: 'rejected', error });
    }
  };

  const mirror = await mirrorBucket(kv, apply, options.onError);

  return {
    policyFor: (tenant) => compiled.get(tenant) ?? fallback,
    stop: () => mirror.stop(),
  };
}

/** A stored policy as it is in the bucket. */
export interface StoredPolicy {
  readonly json: string;
  readonly revision: number;
}

/** Reads a tenant's stored policy; undefined when it has none (the default applies). */
export async function getPolicyDocument(kv: KV, tenant: string): Promise<StoredPolicy | undefined> {
  const entry = await kv.get(policyKey(tenant));
  if (entry === null || entry.operation !== 'PUT') return undefined;
  return { json: decoder.decode(entry.value), revision: entry.revision };
}

/**
 * Validates, compiles (so a bad regex is refused here, not in every replica) and stores a
 * tenant's policy. Refuses to store other content under the version already stored, since
 * decisions name the version; the write fails if someone else wrote the key meanwhile.
 */
export async function putPolicyDocument(kv: KV, tenant: string, document: unknown): Promise<{ revision: number; document: PolicyDocument }> {
  const key = policyKey(tenant);
  const { document: valid } = policyFromJson(JSON.stringify(document));
  const json = JSON.stringify(valid);
  const current = await getPolicyDocument(kv, tenant);
  if (current !== undefined) {
    const stored = tryVersion(current.json);
    if (stored === valid.version && current.json !== json) {
      throw new DomainError(
        'FAILED_PRECONDITION',
        `tenant ${tenant} already has other rules under version "${valid.version}": give the new policy a new version`,
      );
    }
    return { revision: await kv.update(key, json, current.revision), document: valid };
  }
  return { revision: await kv.create(key, json), document: valid };
}

/** Removes a tenant's policy: the default applies from the next request on. */
export async function deletePolicyDocument(kv: KV, tenant: string): Promise<void> {
  await kv.delete(policyKey(tenant));
}

function tryVersion(json: string): string | undefined {
  try {
    const v = (JSON.parse(json) as { version?: unknown }).version;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

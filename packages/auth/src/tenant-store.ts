import { mirrorBucket, type KV } from '@switchyard/bus';
import { createKeyring, type MutableKeyring } from './keyring.js';
import {
  apiKeyRecordSchema,
  tenantKeys,
  tenantSettingsSchema,
  type ApiKeyRecord,
  type StoredApiKey,
  type TenantSettings,
  type TenantSettingsInput,
} from './records.js';

export interface TenantStore {
  /** Authenticates against every key in the bucket plus the seed keys, updated live. */
  readonly keyring: MutableKeyring;
  /** The tenant's settings, or undefined when it has none stored. */
  settings(tenant: string): TenantSettings | undefined;
  putTenant(settings: TenantSettingsInput): Promise<void>;
  putKey(record: ApiKeyRecord): Promise<void>;
  revokeKey(keyId: string): Promise<boolean>;
  listKeys(tenant?: string): StoredApiKey[];
  /** Whether the tenant exists: it has settings, an active key in the bucket, or a seed key. */
  exists(tenant: string): boolean;
  stop(): Promise<void>;
}

const decode = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data)) as unknown;
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/**
 * Tenants and hashed API keys in the `tenants` KV bucket, mirrored in memory by a watch so
 * authentication never waits on I/O and a revocation reaches every replica in milliseconds.
 * `seed` keys (from configuration) stay valid whatever the bucket holds.
 */
export async function openTenantStore(
  kv: KV,
  seed: readonly ApiKeyRecord[] = [],
  onInvalid: (key: string, e: unknown) => void = () => {},
): Promise<TenantStore> {
  const keyring = createKeyring(seed);
  const keys = new Map<string, StoredApiKey>();
  const tenants = new Map<string, TenantSettings>();
  const apply = (key: string, value: Uint8Array | undefined) => {
    const [kind, id] = [key.slice(0, key.indexOf('.')), key.slice(key.indexOf('.') + 1)];
    try {
      if (kind === 'keys') {
        if (!value) return (keys.delete(id), keyring.remove(id));
        const record = apiKeyRecordSchema.parse(decode(value));
        keys.set(id, record);
        keyring.put(record);
      } else if (kind === 'tenants') {
        if (!value) return void tenants.delete(id);
        tenants.set(id, tenantSettingsSchema.parse(decode(value)));
      }
    } catch (e) {
      onInvalid(key, e);
    }
  };

  const mirror = await mirrorBucket(kv, apply);

  return {
    keyring,
    settings: (tenant) => tenants.get(tenant),
    async putTenant(settings) {
      const parsed = tenantSettingsSchema.parse(settings);
      await kv.put(tenantKeys.tenant(parsed.tenant), encode(parsed));
      tenants.set(parsed.tenant, parsed);
    },
    async putKey(record) {
      const parsed = apiKeyRecordSchema.parse(record);
      await kv.put(tenantKeys.key(parsed.keyId), encode(parsed));
      keys.set(parsed.keyId, parsed);
      keyring.put(parsed);
    },
    async revokeKey(keyId) {
      const record = keys.get(keyId);
      if (!record) return false;
      const revoked = { ...record, revoked: true };
      await kv.put(tenantKeys.key(keyId), encode(revoked));
      keys.set(keyId, revoked);
      keyring.put(revoked);
      return true;
    },
    listKeys: (tenant) => [...keys.values()].filter((k) => !tenant || k.tenant === tenant),
    exists: (tenant) => tenants.has(tenant) || seed.some((k) => k.tenant === tenant) || [...keys.values()].some((k) => k.tenant === tenant && !k.revoked),
    stop: () => mirror.stop(),
  };
}

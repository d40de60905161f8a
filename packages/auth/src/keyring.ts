import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError, type TierName } from '@switchyard/contracts';
import { apiKeyRecordSchema, type ApiKeyRecord, type StoredApiKey } from './records.js';

/** Who is calling, once the key checked out. */
export interface Principal {
  readonly tenant: string;
  readonly keyId: string;
  readonly operator: boolean;
  /** Tiers the key may use; empty means all. */
  readonly tiers: readonly TierName[];
  /** Feature tag of the key; empty when it has none. */
  readonly feature: string;
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new random key: `sy_` + 32 url-safe characters (192 bits). */
export const generateApiKey = (): string => `sy_${randomBytes(24).toString('base64url')}`;

const BEARER = /^Bearer\s+(\S+)$/i;

export interface Keyring {
  /** Resolves an `authorization` header value (`Bearer <key>`) to a principal. */
  authenticate(authorization: string | undefined): Principal;
}

/** A keyring whose records can change while it serves (KV watch, revocation). */
export interface MutableKeyring extends Keyring {
  put(record: ApiKeyRecord): void;
  remove(keyId: string): void;
}

/**
 * Looks keys up by hash. Hashes are compared in constant time so a caller cannot learn a
 * key byte by byte from response timing. Revoked keys fail like unknown ones.
 */
export function createKeyring(records: readonly ApiKeyRecord[] = []): MutableKeyring {
  const byHash = new Map<string, StoredApiKey>();
  const hashById = new Map<string, string>();
  const remove = (keyId: string) => {
    const hash = hashById.get(keyId);
    if (hash) byHash.delete(hash);
    hashById.delete(keyId);
  };
  const put = (record: ApiKeyRecord) => {
    const r = apiKeyRecordSchema.parse(record);
    remove(r.keyId);
    byHash.set(r.keyHash, r);
    hashById.set(r.keyId, r.keyHash);
  };
  records.forEach(put);
  return {
    put,
    remove,
    authenticate(authorization) {
      // HTTP joins repeated headers with ", " (fetch, proxies); keys never hold a comma.
      if (authorization?.includes(',')) {
        throw new DomainError('UNAUTHENTICATED', 'more than one authorization value was sent; send exactly one: "authorization: Bearer <key>"');
      }
      const key = authorization ? BEARER.exec(authorization)?.[1] : undefined;
      if (!key) {
        throw new DomainError('UNAUTHENTICATED', 'missing API key: send metadata "authorization: Bearer <key>"');
      }
      const hash = hashApiKey(key);
      const record = byHash.get(hash);
      if (!record || record.revoked || !timingSafeEqual(Buffer.from(record.keyHash, 'hex'), Buffer.from(hash, 'hex'))) {
        throw new DomainError('UNAUTHENTICATED', 'invalid or revoked API key: check SWITCHYARD_API_KEY or ask an operator for a new key');
      }
      return { tenant: record.tenant, keyId: record.keyId, operator: record.operator, tiers: record.tiers, feature: record.feature };
    },
  };
}

/**
 * Parses the `API_KEYS` setting: a comma-separated list of `tenant:keyId:sha256hex`, with an
 * optional `:operator` suffix.
 */
export function parseApiKeys(value: string): ApiKeyRecord[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [tenant, keyId, keyHash, role] = entry.split(':');
      if (!tenant || !keyId || !keyHash || !/^[0-9a-f]{64}$/.test(keyHash) || (role && role !== 'operator')) {
        throw new Error(`API_KEYS entry "${entry.slice(0, 40)}" must be tenant:keyId:sha256hex[:operator]`);
      }
      return { tenant, keyId, keyHash, operator: role === 'operator' };
    });
}

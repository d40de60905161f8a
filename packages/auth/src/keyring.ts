import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError } from '@switchyard/contracts';

/** One API key as stored: only its hash is kept. */
export interface ApiKeyRecord {
  /** Short public id of the key, safe to log. */
  readonly keyId: string;
  readonly tenant: string;
  /** SHA-256 of the key, hex. */
  readonly keyHash: string;
  /** Operators may read every tenant's data. Default false. */
  readonly operator?: boolean;
}

/** Who is calling, once the key checked out. */
export interface Principal {
  readonly tenant: string;
  readonly keyId: string;
  readonly operator: boolean;
}

export const hashApiKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new random key: `sy_` + 32 url-safe characters (192 bits). */
export const generateApiKey = (): string => `sy_${randomBytes(24).toString('base64url')}`;

const BEARER = /^Bearer\s+(\S+)$/i;

export interface Keyring {
  /** Resolves an `authorization` header value (`Bearer <key>`) to a principal. */
  authenticate(authorization: string | undefined): Principal;
}

/**
 * Looks keys up by hash. Hashes are compared in constant time so a caller cannot learn a
 * key byte by byte from response timing.
 */
export function createKeyring(records: readonly ApiKeyRecord[]): Keyring {
  const byHash = new Map(records.map((r) => [r.keyHash, r]));
  return {
    authenticate(authorization) {
      const key = authorization ? BEARER.exec(authorization)?.[1] : undefined;
      if (!key) {
        throw new DomainError('UNAUTHENTICATED', 'missing API key: send metadata "authorization: Bearer <key>"');
      }
      const hash = hashApiKey(key);
      const record = byHash.get(hash);
      if (!record || !timingSafeEqual(Buffer.from(record.keyHash, 'hex'), Buffer.from(hash, 'hex'))) {
        throw new DomainError('UNAUTHENTICATED', 'invalid API key: check SWITCHYARD_API_KEY or ask an operator for a new key');
      }
      return { tenant: record.tenant, keyId: record.keyId, operator: record.operator ?? false };
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

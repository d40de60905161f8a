import { z } from '@switchyard/config';
import { TENANT_ID, TIERS } from '@switchyard/contracts';

const tier = z.enum(TIERS);
/** Tenant ids, and key ids by the same rule. */
const id = z.string().regex(TENANT_ID, 'use up to 64 letters, digits, "_" or "-"');

/** One API key as stored in the `tenants` bucket under `keys.<keyId>`: only its hash. */
export const apiKeyRecordSchema = z.object({
  keyId: id,
  tenant: id,
  /** SHA-256 of the key, hex. */
  keyHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Tiers this key may use; empty means all. */
  tiers: z.array(tier).default([]),
  /** Feature tag stamped on every request made with this key (budgets, invoices). */
  feature: z
    .string()
    .regex(/^[A-Za-z0-9_-]{0,64}$/)
    .default(''),
  operator: z.boolean().default(false),
  revoked: z.boolean().default(false),
  createdUnixMs: z.number().int().nonnegative().default(0),
});
export type ApiKeyRecord = z.input<typeof apiKeyRecordSchema>;
export type StoredApiKey = z.infer<typeof apiKeyRecordSchema>;

const tierLimits = z.object({
  requestsPerMinute: z.number().int().positive(),
  tokensPerMinute: z.number().int().positive(),
});

/**
 * A tenant's rate limits, under `tenants.<tenant>`. Missing parts use service defaults.
 * Budgets are not here: billing owns them (`SetBudget`, `switchyard budget set`).
 */
export const tenantSettingsSchema = z.object({
  tenant: id,
  limits: z.partialRecord(tier, tierLimits).default({}),
});
export type TenantSettings = z.infer<typeof tenantSettingsSchema>;
export type TenantSettingsInput = z.input<typeof tenantSettingsSchema>;
export type TierLimits = z.infer<typeof tierLimits>;

export const tenantKeys = {
  key: (keyId: string) => `keys.${keyId}`,
  tenant: (tenant: string) => `tenants.${tenant}`,
} as const;

export { createKeyring, hashApiKey, generateApiKey, parseApiKeys } from './keyring.js';
export type { Keyring, MutableKeyring, Principal } from './keyring.js';
export { apiKeyRecordSchema, tenantSettingsSchema, tenantKeys } from './records.js';
export type { ApiKeyRecord, StoredApiKey, TenantSettings, TenantSettingsInput, TierLimits } from './records.js';
export { openTenantStore } from './tenant-store.js';
export type { TenantStore } from './tenant-store.js';
export { actFor, ACT_FOR_TENANT_HEADER } from './act-for.js';

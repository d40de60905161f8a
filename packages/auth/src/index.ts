export { createKeyring, hashApiKey, generateApiKey, parseApiKeys } from './keyring.js';
export type { ApiKeyRecord, Keyring, Principal } from './keyring.js';

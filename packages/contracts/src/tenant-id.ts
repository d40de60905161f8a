/** A tenant id: 1 to 64 letters, digits, "_" or "-", so it fits a subject token and a key. */
export const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const isTenantId = (text: string): boolean => TENANT_ID.test(text);

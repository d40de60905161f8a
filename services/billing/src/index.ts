export { createBilling } from './service.js';
export type { Billing, BillingDeps } from './service.js';
export { migrate } from './migrate.js';
export { accounts } from './ledger.js';

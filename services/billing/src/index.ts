export { createBilling } from './service.js';
export type { Billing, BillingDeps } from './service.js';
export { migrate } from './migrate.js';
export { priceUsage, DEFAULT_PRICE_BOOK } from './pricing.js';
export type { PriceBook, ModelPrice, PricedUsage } from './pricing.js';
export { accounts } from './ledger.js';

export { priceUsage, DEFAULT_PRICE_BOOK } from './price-usage.js';
export type { PriceBook, ModelPrice, PricedUsage } from './price-usage.js';

export { priceUsage, priceReservation, discountFor, DEFAULT_PRICE_BOOK } from './price-usage.js';
export type { PriceBook, ModelPrice, PricedUsage, PriceContext, ReservedCapacityPrice } from './price-usage.js';
export { selectPriceBook, sortCatalog, priceBookProblems, rejectNewVersion } from './price-catalog.js';
export type { PriceCatalog } from './price-catalog.js';
export { periodOf, parsePeriod } from './period.js';
export type { Period } from './period.js';

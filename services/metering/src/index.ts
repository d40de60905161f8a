export { createMetering } from './service.js';
export type { Metering, MeteringDeps } from './service.js';

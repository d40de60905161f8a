export { createEngineAdapter } from './service.js';
export type { EngineAdapter, EngineAdapterDeps } from './service.js';

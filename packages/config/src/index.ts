export { loadConfig, loadYamlFile, ConfigError } from './load-config.js';
export { commonEnv, commaList, redisEnv, databaseEnv, listenAddress, portSchema, splitHostPort, tlsEnv, tlsFilesOf } from './common.js';
export { z } from 'zod';
export { POOL_KINDS, endpointSchema, poolKind, poolSchema, poolsFileSchema, poolUpstreams, loadPoolsFile, tokenPricesSchema } from './pools.js';
export type { EndpointSpec, PoolKind, PoolSpec, TokenPrices, Upstream } from './pools.js';
export { poolCostModel, tokenCostMicros, gpuTimeCostMicros } from './pool-cost-model.js';
export type { CostBasis, PoolCostModel, PoolPricing, TokenCounts } from './pool-cost-model.js';

export { loadConfig, loadYamlFile, ConfigError } from './load-config.js';
export { commonEnv, redisEnv, databaseEnv, listenAddress, portSchema, splitHostPort } from './common.js';
export { z } from 'zod';
export { POOL_KINDS, endpointSchema, poolKind, poolSchema, poolsFileSchema, poolUpstreams, loadPoolsFile } from './pools.js';
export type { EndpointSpec, PoolKind, PoolSpec, Upstream } from './pools.js';

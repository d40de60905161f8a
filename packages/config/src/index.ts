export { loadConfig, loadYamlFile, ConfigError } from './load-config.js';
export { commonEnv, redisEnv, databaseEnv, listenAddress, portSchema } from './common.js';
export { z } from 'zod';
export { poolSchema, poolsFileSchema, loadPoolsFile } from './pools.js';
export type { PoolSpec } from './pools.js';

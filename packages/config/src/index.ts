export { loadConfig, loadYamlFile, ConfigError } from './load-config.js';
export { commonEnv, redisEnv, databaseEnv, listenAddress, portSchema } from './common.js';
export { z } from 'zod';

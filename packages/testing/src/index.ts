export { startNats, startRedis, startPostgres } from './servers.js';
export type { TestServer, StartOptions } from './servers.js';
export { freePort, startProcessServer } from './process-server.js';
export type { ProcessServer, ProcessServerSpec } from './process-server.js';
export { waitFor } from './wait-for.js';
export { hasBinary, dockerAnswers } from './containers.js';
export { startLatencyProxy } from './latency-proxy.js';
export type { LatencyProxy } from './latency-proxy.js';
export { testPool, idleHeartbeat } from './fleet.js';

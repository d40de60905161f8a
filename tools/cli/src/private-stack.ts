import { join } from 'node:path';
import { freePort } from '@switchyard/testing';
import { batchServiceEnv } from './batch-env.js';
import { REPO_ROOT } from './stack.js';

export interface PrivateStackEnv {
  /** What every service of the stack runs with. */
  readonly env: NodeJS.ProcessEnv;
  /** Admission's gRPC `host:port`. */
  readonly grpcAddress: string;
  /** The OpenAI-compatible base URL, `http://host:port/v1`. */
  readonly httpUrl: string;
}

/**
 * The environment of a stack of its own (tests, benchmarks): its private servers, free
 * loopback ports for every listener, the repository's pools and GPU workers at full speed, so
 * it never collides with `switchyard up` or another run. `extra` goes on top.
 */
export async function privateStackEnv(
  servers: { readonly nats: string; readonly redis: string; readonly postgres: string },
  apiKeys: string,
  extra: NodeJS.ProcessEnv = {},
): Promise<PrivateStackEnv> {
  const [grpcPort, httpPort, policyPort, billingPort, batchGrpc, batchHttp] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const grpcAddress = `127.0.0.1:${grpcPort}`;
  const batch = batchServiceEnv({ admissionHttp: httpPort, batchGrpc, batchHttp });
  const env = {
    ...process.env,
    NATS_URL: servers.nats,
    REDIS_URL: servers.redis,
    DATABASE_URL: servers.postgres,
    LOG_LEVEL: 'warn',
    API_KEYS: `${apiKeys},${batch.apiKeyEntry}`,
    ADMISSION_LISTEN: grpcAddress,
    HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    POLICY_LISTEN: `127.0.0.1:${policyPort}`,
    POLICY_ADDR: `127.0.0.1:${policyPort}`,
    BILLING_LISTEN: `127.0.0.1:${billingPort}`,
    POOLS_FILE: join(REPO_ROOT, 'deploy', 'pools.yaml'),
    WORKER_SPEED: 'max',
    ...batch.env,
    ...extra,
  };
  return { env, grpcAddress, httpUrl: `http://127.0.0.1:${httpPort}/v1` };
}

import { Redis } from 'ioredis';
import { startRedis, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll } from 'vitest';

/** For this service's `*.int.test.ts`: a private redis-server per test file, and a client on it. */
export function useTestRedis(): () => Redis {
  let server: TestServer | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.dispose();
  });
  return () => redis!;
}

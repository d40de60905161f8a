import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '@switchyard/auth';
import { freePort, startNats, startPostgres, startRedis, type TestServer } from '@switchyard/testing';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT, SERVICES, firstServedRequest, startStack, type Stack } from './stack.js';

// What `pnpm start` runs: every service compiled to one bundle and started from it.
let servers: TestServer[] = [];
let stack: Stack | undefined;
afterAll(async () => {
  await stack?.stop();
  await Promise.all(servers.map((s) => s.dispose()));
});

it('compiles every service, runs the bundles and serves a request end to end', async () => {
  const [nats, redis, pg] = await Promise.all([startNats(), startRedis(), startPostgres()]);
  servers = [nats, redis, pg];
  const [grpcPort, httpPort, policyPort, billingPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const env = {
    ...process.env,
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    DATABASE_URL: pg.url,
    LOG_LEVEL: 'warn',
    API_KEYS: `t:tenant-1:${hashApiKey('sy_stack_key')}`,
    ADMISSION_LISTEN: `127.0.0.1:${grpcPort}`,
    HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    POLICY_LISTEN: `127.0.0.1:${policyPort}`,
    POLICY_ADDR: `127.0.0.1:${policyPort}`,
    BILLING_LISTEN: `127.0.0.1:${billingPort}`,
    POOLS_FILE: join(REPO_ROOT, 'deploy', 'pools.yaml'),
    WORKER_SPEED: 'max',
  };
  const exited: string[] = [];
  stack = await startStack(env, join(REPO_ROOT, '.switchyard', 'test-logs'), (name) => exited.push(name));
  const text = await firstServedRequest(`127.0.0.1:${grpcPort}`, 'sy_stack_key', 50_000);
  expect(text.length).toBeGreaterThan(0);
  expect(exited).toEqual([]);
  for (const name of SERVICES) {
    const pid = stack.children.get(name)!.pid!;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(join(REPO_ROOT, 'services', name, 'dist', 'main.mjs'));
  }
  await stack.stop();
  for (const child of stack.children.values()) expect(child.exitCode ?? child.signalCode).not.toBeNull();
}, 90_000);

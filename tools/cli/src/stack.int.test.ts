import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashApiKey } from '@switchyard/auth';
import { startNats, startPostgres, startRedis, type TestServer } from '@switchyard/testing';
import { afterAll, expect, it } from 'vitest';
import { privateStackEnv } from './private-stack.js';
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
  const { env, grpcAddress } = await privateStackEnv({ nats: nats.url, redis: redis.url, postgres: pg.url }, `t:tenant-1:${hashApiKey('sy_stack_key')}`);
  const exited: string[] = [];
  stack = await startStack(env, join(REPO_ROOT, '.switchyard', 'test-logs'), (name) => exited.push(name));
  const text = await firstServedRequest(grpcAddress, 'sy_stack_key', 50_000);
  expect(text.length).toBeGreaterThan(0);
  expect(exited).toEqual([]);
  for (const name of SERVICES) {
    const pid = stack.children.get(name)!.pid!;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(join(REPO_ROOT, 'services', name, 'dist', 'main.mjs'));
  }
  await stack.stop();
  for (const child of stack.children.values()) expect(child.exitCode ?? child.signalCode).not.toBeNull();
}, 90_000);

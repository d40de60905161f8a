import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres, { type Sql } from 'postgres';
import { hashApiKey } from '@switchyard/auth';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { startNats, startPostgres, startRedis, waitFor, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESTART_POLICY } from './restart-policy.js';
import { privateStackEnv } from './private-stack.js';
import { REPO_ROOT, firstServedRequest, startStack, type ServiceExit, type ServiceName, type Stack } from './stack.js';

// `switchyard up` runs every service as its own process; kill -9 one of them and the rest of
// the stack must keep running, the supervisor must start it again, and requests must be
// served again soon after (issue #15).
const RECOVERY_MS = 5_000;
const LOG_DIR = join(REPO_ROOT, '.switchyard', 'supervision-test-logs');

let servers: TestServer[] = [];
let stack: Stack | undefined;
let client: SwitchyardClient | undefined;
let address = '';
let sql: Sql | undefined;
const exits: ServiceExit[] = [];
const restarts: Array<{ name: ServiceName; child: ChildProcess; at: number }> = [];

beforeAll(async () => {
  const [nats, redis, pg] = await Promise.all([startNats(), startRedis(), startPostgres()]);
  servers = [nats, redis, pg];
  const { env, grpcAddress } = await privateStackEnv({ nats: nats.url, redis: redis.url, postgres: pg.url }, `t:tenant-1:${hashApiKey('sy_supervised_key')}`);
  address = grpcAddress;
  stack = await startStack(env, LOG_DIR, (_name, _code, _signal, exit) => exits.push(exit), {
    onRestart: (name, child) => restarts.push({ name, child, at: performance.now() }),
  });
  await firstServedRequest(address, 'sy_supervised_key', 50_000);
  // One client for the whole run, as an application keeps its own across an outage.
  client = createSwitchyardClient({ address, apiKey: 'sy_supervised_key' });
  sql = postgres(pg.url, { max: 1, onnotice: () => {} });
}, 70_000);

afterAll(async () => {
  client?.close();
  await sql?.end();
  await stack?.stop();
  await Promise.all(servers.map((s) => s.dispose()));
});

/** Kills `name` with SIGKILL; resolves with its new process and when that was spawned. */
async function killAndAwaitRestart(name: ServiceName) {
  const old = stack!.children.get(name)!;
  const seen = restarts.length;
  process.kill(old.pid!, 'SIGKILL');
  const restart = await waitFor(`${name} to be restarted`, async () => restarts.slice(seen).find((r) => r.name === name), 10_000);
  expect(restart.child.pid).not.toBe(old.pid);
  expect(stack!.children.get(name)).toBe(restart.child);
  return restart;
}

/** Sends requests until one is served; its id and the milliseconds from `since` to it, or throws at `since + withinMs`. */
async function servedAgain(since: number, withinMs: number): Promise<{ requestId: string; ms: number }> {
  const deadline = since + withinMs;
  let last: unknown;
  for (let n = 0; performance.now() < deadline; n++) {
    const left = deadline - performance.now();
    try {
      const r = await client!.complete({
        model: 'llama-3.2-1b',
        prompt: `after the restart ${n}`,
        maxTokens: 4,
        timeoutMs: Math.max(1, Math.min(2_000, left)),
      });
      if (r.text.length > 0) return { requestId: r.requestId, ms: performance.now() - since };
    } catch (e) {
      last = e;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`no request served within ${withinMs} ms of the restart`, { cause: last });
}

describe('supervision under switchyard up', () => {
  // Admission must bind its port again; the batcher must take over its pools' durable consumers.
  it.each<ServiceName>(['batcher', 'admission', 'scheduler', 'worker-simulator', 'policy'])(
    'kill -9 of %s: the others keep running, it is restarted, and requests are served within 5 s of its restart',
    async (name) => {
      const others = [...stack!.children].filter(([n]) => n !== name).map(([n, c]) => [n, c.pid] as const);
      const killedAt = performance.now();
      const restart = await killAndAwaitRestart(name);
      const { ms } = await servedAgain(restart.at, RECOVERY_MS);
      console.log(
        `${name}: restarted ${((restart.at - killedAt) / 1000).toFixed(2)} s after kill -9, served again ${(ms / 1000).toFixed(2)} s after the restart`,
      );

      for (const [n, pid] of others) expect(stack!.children.get(n)!.pid, `${n} was left alone`).toBe(pid);
      const exit = exits.findLast((e) => e.name === name)!;
      expect(exit.signal).toBe('SIGKILL');
      expect(exit.restart?.crashes).toBe(1);
      expect(readFileSync(join(LOG_DIR, `${name}.log`), 'utf8')).toContain(`${name} restarted (pid ${restart.child.pid})`);
    },
    30_000,
  );

  // Off the request path: what they do again is meter and bill what is served after the restart.
  it.each<ServiceName>(['metering', 'billing'])(
    'kill -9 of %s: it is restarted, and a request served after the restart is billed within 5 s',
    async (name) => {
      const restart = await killAndAwaitRestart(name);
      const { requestId } = await servedAgain(restart.at, RECOVERY_MS);
      await waitFor(
        `the ledger to bill ${requestId}`,
        async () => {
          const [row] = await sql!`SELECT 1 FROM ledger_transactions WHERE request_id = ${requestId} AND kind = 'usage'`;
          return row;
        },
        Math.max(0, restart.at + RECOVERY_MS - performance.now()),
      );
      console.log(`${name}: billed ${((performance.now() - restart.at) / 1000).toFixed(2)} s after the restart`);
    },
    30_000,
  );

  it('a service killed again soon after its restart is started after a longer delay, and serves again', async () => {
    const killedAt = performance.now();
    const restart = await killAndAwaitRestart('batcher');
    const exit = exits.findLast((e) => e.name === 'batcher')!;
    expect(exit.restart).toEqual({ crashes: 2, delayMs: 2 * DEFAULT_RESTART_POLICY.initialDelayMs });
    expect(restart.at - killedAt).toBeGreaterThanOrEqual(2 * DEFAULT_RESTART_POLICY.initialDelayMs);
    await servedAgain(restart.at, RECOVERY_MS);
  }, 30_000);

  it('stop() ends every service and restarts none, not even one waiting for its restart', async () => {
    const exitsBefore = exits.length;
    process.kill(stack!.children.get('scheduler')!.pid!, 'SIGKILL');
    await waitFor('the scheduler exit', () => (exits.length > exitsBefore ? true : undefined), 5_000);
    const restartsBefore = restarts.length;
    await stack!.stop();
    for (const [name, child] of stack!.children) expect(child.exitCode ?? child.signalCode, `${name} has exited`).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 4 * DEFAULT_RESTART_POLICY.initialDelayMs));
    expect(restarts.length).toBe(restartsBefore);
    expect(exits.length).toBe(exitsBefore + 1);
  }, 30_000);
});

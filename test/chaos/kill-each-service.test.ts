import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { status, type ServiceError } from '@grpc/grpc-js';
import { hashApiKey } from '@switchyard/auth';
import { connectBus, type NatsConnection } from '@switchyard/bus';
import { firstServedRequest, privateStackEnv, REPO_ROOT, startStack, type ServiceName, type Stack } from '@switchyard/cli';
import { Tier } from '@switchyard/contracts';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { startNats, startPostgres, startRedis, waitFor, type TestServer } from '@switchyard/testing';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRequestInvariants, expectInvariantsHold } from '../support/request-invariants.js';
import { trailsOf, wallClockTrail } from '../support/read-stream.js';

/**
 * Issue #23, scenario 1: every service of `switchyard up` killed with kill -9, in turn, twice,
 * while 10 callers keep streaming generations (real-time simulated GPUs, so kills land on
 * requests in flight); the supervisor restarts each. Then: every call ended within its
 * deadline + 5 s (a killed admission's callers get UNAVAILABLE, not a hang), every admitted
 * request has exactly one terminal outcome, every completed request is billed exactly once,
 * and reconcile reports 0 differences.
 */

const KEY = 'sy_chaos_each_key';
const CALLERS = 10;
const DEADLINE_MS = 8_000;
const VICTIMS: ServiceName[] = ['admission', 'policy', 'scheduler', 'batcher', 'worker-simulator', 'metering', 'billing'];
const ROUNDS = 2;

interface Call {
  readonly startedMs: number;
  endedMs: number;
  requestId?: string;
  outcome: 'completed' | string;
}

let servers: TestServer[] = [];
let stack: Stack | undefined;
let nc: NatsConnection;
let sql: Sql;
let address = '';
let urls: { nats: string; postgres: string };

beforeAll(async () => {
  const [nats, redis, pg] = await Promise.all([startNats(), startRedis(), startPostgres()]);
  servers = [nats, redis, pg];
  urls = { nats: nats.url, postgres: pg.url };
  const { env, grpcAddress } = await privateStackEnv({ nats: nats.url, redis: redis.url, postgres: pg.url }, `acme:chaos-1:${hashApiKey(KEY)}`, {
    WORKER_SPEED: '1',
  });
  address = grpcAddress;
  stack = await startStack(env, join(REPO_ROOT, '.switchyard', 'kill-each-test-logs'), () => {});
  await firstServedRequest(address, KEY, 50_000);
  nc = await connectBus({ url: nats.url, name: 'chaos-each' });
  sql = postgres(pg.url, { max: 2, onnotice: () => {} });
}, 90_000);

afterAll(async () => {
  await nc?.close();
  await sql?.end();
  await stack?.stop();
  await Promise.all(servers.map((s) => s.dispose()));
});

/** One caller: streamed generations back to back until `until()`, each recorded with how it ended. */
async function caller(client: SwitchyardClient, n: number, calls: Call[], until: () => boolean): Promise<void> {
  for (let i = 0; !until(); i++) {
    const call: Call = { startedMs: performance.now(), endedMs: 0, outcome: 'pending' };
    calls.push(call);
    try {
      for await (const { event } of client.generate({
        model: 'llama-3.1-8b',
        prompt: `caller ${n} call ${i}: keep going`,
        maxTokens: 16 + ((n * 7 + i) % 48),
        tier: [Tier.TIER_REALTIME, Tier.TIER_INTERNAL, Tier.TIER_BATCH][(n + i) % 3],
        timeoutMs: DEADLINE_MS,
      })) {
        if (event?.$case === 'started') call.requestId = event.started.requestId;
        if (event?.$case === 'finished') call.outcome = event.finished.outcome === 1 ? 'completed' : `finished ${event.finished.outcome}`;
      }
    } catch (e) {
      call.outcome = status[(e as ServiceError).code] ?? String(e);
      await sleep(100);
    }
    call.endedMs = performance.now();
  }
}

describe('chaos: kill -9 of each service in turn under load', () => {
  it('ends every call within its deadline, every admitted request exactly once, and bills every completion once', async () => {
    const clients = Array.from({ length: CALLERS }, () => createSwitchyardClient({ address, apiKey: KEY }));
    const calls: Call[] = [];
    let stopping = false;
    const started = Date.now();
    const load = Promise.all(clients.map((c, n) => caller(c, n, calls, () => stopping)));

    const restarts: Array<{ name: ServiceName; ms: number }> = [];
    const kills: Array<{ name: ServiceName; atMs: number }> = [];
    await sleep(2_000);
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of VICTIMS) {
        const old = stack!.children.get(name)!;
        const killedAt = performance.now();
        kills.push({ name, atMs: Date.now() });
        process.kill(old.pid!, 'SIGKILL');
        await waitFor(`${name} restarted`, () => (stack!.children.get(name)!.pid !== old.pid ? true : undefined), 15_000);
        restarts.push({ name, ms: performance.now() - killedAt });
        await sleep(1_500);
      }
    }
    await sleep(2_000);
    stopping = true;
    await load;
    for (const c of clients) c.close();

    // No caller waited past its deadline by more than 5 s, whatever was killed under it.
    const slowest = Math.max(...calls.map((c) => c.endedMs - c.startedMs));
    expect(slowest).toBeLessThanOrEqual(DEADLINE_MS + 5_000);
    const byOutcome: Record<string, number> = {};
    for (const c of calls) byOutcome[c.outcome] = (byOutcome[c.outcome] ?? 0) + 1;
    // Failures a caller can act on: retry later (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED) or a
    // deadline; never INTERNAL or UNKNOWN.
    for (const outcome of Object.keys(byOutcome))
      expect(['completed', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'ABORTED', 'finished 2', 'finished 4', 'finished 5']).toContain(outcome);
    console.log(`kill each: calls by outcome ${JSON.stringify(byOutcome)}`);
    // And the stack serves again once the last restart has settled.
    await firstServedRequest(address, KEY, 10_000);

    const report = await checkRequestInvariants({ nc, sql, natsUrl: urls.nats, databaseUrl: urls.postgres, sinceMs: started });
    if (report.notEndedOnce.length > 0) {
      // Where each one stopped, with wall-clock times to set beside the kills.
      console.log(`kills: ${kills.map((k) => `${k.name} ${new Date(k.atMs).toISOString().slice(11, 23)}`).join(', ')}`);
      const trails = await trailsOf(nc, report.notEndedOnce.slice(0, 10), ['REQUESTS', 'DECISIONS', 'USAGE', 'LIFECYCLE']);
      for (const [id, hops] of trails) console.log(`${id}: ${wallClockTrail(hops)}`);
    }
    expectInvariantsHold(report);
    console.log(
      `kill each: ${restarts.length} kills (${VICTIMS.join(', ')} x${ROUNDS}), restarted after ` +
        `${(Math.max(...restarts.map((r) => r.ms)) / 1000).toFixed(1)} s at most; ${calls.length} calls ${JSON.stringify(byOutcome)}, ` +
        `slowest ${(slowest / 1000).toFixed(1)} s (deadline ${DEADLINE_MS / 1000} s); ${report.admitted} admitted, each ended once; ` +
        `${report.completed} completed, each billed once; reconciliation 0`,
    );
  }, 240_000);
});

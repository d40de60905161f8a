// TEMP diagnostic: start the stack, pace realtime requests at RATE for SECONDS, print pids.
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { hashApiKey } from '@switchyard/auth';
import { Tier, createSwitchyardClient } from '@switchyard/sdk';
import { freePort, startNats, startPostgres, startRedis } from '@switchyard/testing';
import { REPO_ROOT, SERVICES, firstServedRequest, startStack } from '@switchyard/cli';
import { paced, closedLoop } from './lib/load.js';
import { summarize } from './lib/stats.js';

const rate = Number(process.env.RATE ?? 50);
const [nats, redis, pg] = await Promise.all([startNats(), startRedis(), startPostgres()]);
const apiKey = 'sy_bench_key';
const [grpcPort, httpPort, policyPort, billingPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
const env = {
  ...process.env, NATS_URL: nats.url, REDIS_URL: redis.url, DATABASE_URL: pg.url, LOG_LEVEL: 'warn',
  API_KEYS: `bench:bench-1:${hashApiKey(apiKey)}`,
  ADMISSION_LISTEN: `127.0.0.1:${grpcPort}`, HTTP_LISTEN: `127.0.0.1:${httpPort}`,
  POLICY_LISTEN: `127.0.0.1:${policyPort}`, POLICY_ADDR: `127.0.0.1:${policyPort}`, BILLING_LISTEN: `127.0.0.1:${billingPort}`,
  POOLS_FILE: join(REPO_ROOT, 'deploy', 'pools.yaml'), WORKER_SPEED: 'max',
};
const address = `127.0.0.1:${grpcPort}`;
const stack = startStack(env, join(REPO_ROOT, '.switchyard', 'bench-logs'), () => {});
await firstServedRequest(address, apiKey, 120_000);
writeFileSync('/tmp/w/stack-pids', SERVICES.map((n) => `${n} ${stack.children.get(n)!.pid}`).join('\n') + `\nnats ${nats.process?.pid}\npostgres ${pg.process?.pid}\n`);
const client = createSwitchyardClient({ address, apiKey });
const shot = async () => {
  const t = performance.now();
  let ttft = NaN;
  for await (const e of client.generate({ model: 'llama-3.2-1b', prompt: 'benchmark prompt of a few words', maxTokens: 16, tier: Tier.TIER_REALTIME })) {
    if (e.event?.$case === 'chunk' && Number.isNaN(ttft)) ttft = performance.now() - t;
  }
  return ttft;
};
await closedLoop(shot, 8, 2);
console.log('PACING');
const run = await paced(shot, rate, Number(process.env.SECONDS ?? 10));
console.log(rate, summarize(run.latencies));
client.close();
await stack.stop();
await Promise.all([nats.dispose(), redis.dispose(), pg.dispose()]);

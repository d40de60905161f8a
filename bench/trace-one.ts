import { join } from 'node:path';
import { hashApiKey } from '@switchyard/auth';
import { connectBus } from '@switchyard/bus';
import { Tier, createSwitchyardClient } from '@switchyard/sdk';
import { freePort, startNats, startPostgres, startRedis } from '@switchyard/testing';
import { REPO_ROOT, firstServedRequest, startStack } from '@switchyard/cli';

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
const nc = await connectBus({ url: nats.url, name: 'trace' });
let t0 = 0;
let lines: string[] = [];
nc.subscribe('>', { callback: (_e, m) => { if (!m.subject.startsWith('$KV.pools') && !m.subject.includes('heartbeat')) lines.push(`${(performance.now() - t0).toFixed(2).padStart(8)} ${m.subject.slice(0, 70)} ${m.reply ? '(reply ' + m.reply.slice(0, 30) + ')' : ''}`); } });
const client = createSwitchyardClient({ address, apiKey });
for (let i = 0; i < 6; i++) {
  lines = [];
  t0 = performance.now();
  for await (const e of client.generate({ model: 'llama-3.2-1b', prompt: 'benchmark prompt of a few words', maxTokens: 16, tier: i % 2 ? Tier.TIER_INTERNAL : Tier.TIER_REALTIME })) {
    if (e.event?.$case === 'chunk') lines.push(`${(performance.now() - t0).toFixed(2).padStart(8)} CLIENT chunk`);
  }
  lines.push(`${(performance.now() - t0).toFixed(2).padStart(8)} CLIENT done`);
  await new Promise((r) => setTimeout(r, 300));
  if (i >= 4) console.log(`--- request ${i} tier ${i % 2 ? 'internal' : 'realtime'}\n` + lines.join('\n'));
}
await new Promise((r) => setTimeout(r, Number(process.env.IDLE_S ?? 0) * 1000));
client.close();
await nc.close();
await stack.stop();
await Promise.all([nats.dispose(), redis.dispose(), pg.dispose()]);

import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
import { join } from 'node:path';
import { hashApiKey } from '@switchyard/auth';
import { connectBus } from '@switchyard/bus';
import { decodeEvent } from '@switchyard/contracts';
import { Tier, createSwitchyardClient } from '@switchyard/sdk';
import { freePort, startNats, startPostgres, startRedis } from '@switchyard/testing';
import { REPO_ROOT, firstServedRequest, startStack } from '@switchyard/cli';
import { paced } from './lib/load.js';
import { summarize } from './lib/stats.js';

const rate = Number(process.argv[2] ?? 200);
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
const at = new Map<string, Record<string, number>>();
const mark = (id: string, stage: string) => { const r = at.get(id) ?? {}; r[stage] ??= performance.now(); at.set(id, r); };
nc.subscribe('>', { callback: (_e, m) => {
  const s = m.subject;
  if (m.reply?.startsWith('$JS.ACK')) return; // deliveries repeat publishes
  try {
    if (s.startsWith('requests.admitted')) mark(decodeEvent(m.data).envelope!.requestId, 'admitted');
    else if (s.startsWith('dispatch.')) mark(decodeEvent(m.data).envelope!.requestId, 'dispatched');
    else if (s.startsWith('batches.')) { const e = decodeEvent(m.data); if (e.payload?.$case === 'batchFormed') for (const r of e.payload.batchFormed.requests) mark(r.requestId, 'batched'); }
    else if (s.startsWith('_SY.tokens.')) mark(s.split('.').at(-1)!, 'token');
    else if (s.startsWith('requests.completed')) mark(decodeEvent(m.data).envelope!.requestId, 'completed');
  } catch {}
} });
const client = createSwitchyardClient({ address, apiKey });
const sent = new Map<string, number>();
const shot = async () => {
  const t = performance.now();
  let ttft = NaN;
  for await (const e of client.generate({ model: 'llama-3.2-1b', prompt: 'benchmark prompt of a few words', maxTokens: 16, tier: (process.env.TIER === "internal" ? Tier.TIER_INTERNAL : Tier.TIER_REALTIME) })) {
    if (e.event?.$case === 'started') sent.set(e.event.started.requestId, t);
    if (e.event?.$case === 'chunk' && Number.isNaN(ttft)) ttft = performance.now() - t;
  }
  return ttft;
};
await paced(shot, 50, 2);
at.clear(); sent.clear();
const cpu = () => (require('node:fs').readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number));
const c0 = cpu();
const run = await paced(shot, rate, 4);
const c1 = cpu();
const d = c1.map((v: number, i: number) => v - c0[i]!);
console.log(`machine busy ${(100 * (1 - d[3]! / d.reduce((a: number, b: number) => a + b, 0))).toFixed(0)}%`);
const stages = ['admitted', 'dispatched', 'batched', 'token'];
const gaps: Record<string, number[]> = Object.fromEntries(stages.map((s) => [s, []]));
for (const [id, t0] of sent) {
  let prev = t0;
  const r = at.get(id); if (!r) continue;
  for (const s of stages) { if (r[s] === undefined) break; gaps[s]!.push(r[s]! - prev); prev = r[s]!; }
}
console.log(`rate ${rate}: ttft`, summarize(run.latencies));
for (const s of stages) { const x = summarize(gaps[s]!); console.log(`  -> ${s.padEnd(10)} p50 ${x.p50.toFixed(2)} p99 ${x.p99.toFixed(2)} n=${x.n}`); }
client.close();
await nc.close();
await stack.stop();
await Promise.all([nats.dispose(), redis.dispose(), pg.dispose()]);

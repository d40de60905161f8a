import type { TopSnapshot } from '@switchyard/live-model';
import { fmt } from './domain/percentile.js';
import { table } from './table.js';

const rate = (v: number) => fmt(v, 2);
const ms = (v: number) => fmt(v, 0);
const pct = (v: number) => `${Math.round(v * 100)}%`;
// Six places: one short request costs a few micro-dollars, which two or four places would show as 0.
const dollars = (micros: number) => (micros / 1_000_000).toFixed(6);

/**
 * One screen of `switchyard top`: three tables (tiers, pools, tenants) under a header line,
 * each row short enough for a 100-column terminal. Pure, so the command only clears and prints.
 */
export function renderTop(s: TopSnapshot): string[] {
  const lines = [
    `switchyard top  ${new Date(s.atMs).toISOString()}  window ${s.windowMs / 1000}s${s.heardMs < s.windowMs ? ` (${Math.round(s.heardMs / 1000)}s heard)` : ''}`,
    '',
  ];
  const tiers = [['tier', 'adm/s', 'done/s', 'rej/s', 'fail/s', 'tok/s', 'ttft p50', 'p95', 'p99', 'e2e p50', 'p95', 'p99']];
  for (const t of s.tiers)
    tiers.push([
      t.tier,
      rate(t.admittedPerS),
      rate(t.completedPerS),
      rate(t.rejectedPerS),
      rate(t.failedPerS),
      fmt(t.tokensPerS, 0),
      ms(t.ttftMs.p50),
      ms(t.ttftMs.p95),
      ms(t.ttftMs.p99),
      ms(t.e2eMs.p50),
      ms(t.e2eMs.p95),
      ms(t.e2eMs.p99),
    ]);
  lines.push(...(s.tiers.length ? table(tiers).split('\n') : ['no requests in the window']), '');
  const pools = [['pool', 'workers', 'running', 'waiting', 'free', 'kv', 'util', 'served/s']];
  for (const p of s.pools)
    pools.push([
      p.pool,
      `${p.healthyWorkers}/${p.workers}`,
      String(p.running),
      String(p.waiting),
      String(p.freeSlots),
      pct(p.kvUsed),
      pct(p.utilisation),
      rate(p.servedPerS),
    ]);
  lines.push(...(s.pools.length ? table(pools).split('\n') : ['no pools']), '');
  const tenants = [['tenant', 'requests', 'spend $', 'spend $/h']];
  for (const t of s.tenants) tenants.push([t.tenant, String(t.requests), dollars(t.spendMicros), dollars(t.spendPerHourMicros)]);
  lines.push(...(s.tenants.length ? table(tenants).split('\n') : ['no spend in the window']));
  // A pool id or tenant name longer than the screen is cut rather than wrapping the table.
  return lines.map((l) => (l.length > 100 ? `${l.slice(0, 99)}…` : l));
}

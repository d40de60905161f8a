import type { TierName } from '@switchyard/contracts';
import { fmt } from './domain/percentile.js';
import type { TierResult } from './domain/load-result.js';
import type { LoadResult } from './load.js';
import { table } from './table.js';

const ms = (v: number) => fmt(v, 0);
const pct = (v: number) => (Number.isFinite(v) ? `${fmt(100 * v, 1)}%` : '-');
const usd = (v: number, digits: number) => (Number.isFinite(v) ? fmt(v, digits) : '-');

/** The end-of-run summary: what was left out, a table per tier, and why requests were refused or failed. */
export function formatLoadReport(r: LoadResult): string {
  const out: string[] = [];
  const p = r.plan;
  out.push(
    `trace ${r.trace.file} (${r.trace.format}, ${r.trace.rows} rows): ${p.requests} requests over ${fmt(r.windowS, 1)} s at speed ${r.options.speed}, ` +
      `${r.options.protocol}, model ${r.options.model}; run took ${fmt(r.wallS, 1)} s, sends at most ${ms(r.maxSendLagMs)} ms late`,
  );
  if (p.skippedOverPromptLimit) out.push(`skipped: ${p.skippedOverPromptLimit} rows over the prompt limit of ${r.options.maxPromptTokens} tokens`);
  if (p.skippedPastDuration) out.push(`skipped: ${p.skippedPastDuration} rows past --duration ${r.options.durationS} s`);
  if (p.clampedOutput)
    out.push(
      `clamped: ${p.clampedOutput} rows asked for more than ${r.options.maxOutputTokens} output tokens and were sent with max_tokens ${r.options.maxOutputTokens}`,
    );
  const rows: string[][] = [
    [
      'tier',
      'sent',
      'done',
      'rejected',
      'failed',
      'dropped',
      'TTFT p50/p95/p99 ms',
      'e2e p50/p95/p99 ms',
      'SLO (TTFT)',
      'attained',
      'goodput/s',
      'tokens in',
      'tokens out',
      'cost $',
      '$/1K tok',
    ],
  ];
  const line = (name: string, t: TierResult) => [
    name,
    String(t.sent),
    String(t.completed),
    String(t.rejected),
    String(t.failed),
    String(t.dropped),
    `${ms(t.ttftMs.p50)}/${ms(t.ttftMs.p95)}/${ms(t.ttftMs.p99)}`,
    `${ms(t.e2eMs.p50)}/${ms(t.e2eMs.p95)}/${ms(t.e2eMs.p99)}`,
    Number.isFinite(t.sloTtftMs) ? `${ms(t.sloTtftMs)} ms` : '-',
    pct(t.sloAttainment),
    fmt(t.goodputPerS, 2),
    String(t.inputTokens),
    String(t.outputTokens),
    r.cost.priced ? usd(t.costUsd, 4) : '-',
    r.cost.priced ? usd(t.costPer1kTokensUsd, 5) : '-',
  ];
  for (const [tier, t] of Object.entries(r.tiers) as [TierName, TierResult][]) rows.push(line(tier, t));
  rows.push(line('all', r.all));
  out.push('', table(rows), '');
  const reasons = (label: string, by: Readonly<Record<string, number>>) =>
    Object.entries(by)
      .sort((a, b) => b[1] - a[1])
      .map(([why, n]) => `  ${label} ${String(n).padStart(6)}  ${why}`);
  out.push(...reasons('rejected', r.all.rejectedBy), ...reasons('not done', r.all.failedBy));
  out.push(`cost: ${r.cost.source}`);
  return out.join('\n');
}

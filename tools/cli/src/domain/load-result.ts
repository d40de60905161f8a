import type { TierName } from '@switchyard/contracts';
import { percentile } from './percentile.js';

export const OUTCOMES = ['completed', 'rejected', 'failed', 'dropped'] as const;
export type LoadOutcome = (typeof OUTCOMES)[number];

/** What happened to one request of the replay, for the result and a later report. */
export interface RequestRecord {
  readonly index: number;
  /** Line of the trace it came from. */
  readonly line: number;
  readonly tier: TierName;
  readonly tenant: string;
  /** When it was due and when it went out, ms after the replay started. */
  readonly scheduledMs: number;
  readonly sentMs: number;
  /**
   * completed: the stream ended with usage; rejected: admission refused it before any token
   * (rate limit, budget, shed, policy, limits); failed: it broke after admission or on the
   * way (UNAVAILABLE, a deadline, a cut stream); dropped: the load generator had too many in
   * flight and never sent it.
   */
  readonly outcome: LoadOutcome;
  /** Why, for anything but completed: status and its message with numbers taken out, so alike refusals group. */
  readonly reason?: string;
  /** From sending to the first token / to the end of the stream; absent when there was none. */
  readonly ttftMs?: number;
  readonly e2eMs?: number;
  readonly promptTokens: number;
  readonly maxTokens: number;
  /** Usage the system reported (0 when it did not complete). */
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Price of that usage in micros (USD millionths); absent when the model has no price. */
  readonly costMicros?: number;
}

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

export interface TierResult {
  /** Requests of the replay in this tier; sent + dropped. */
  readonly requests: number;
  readonly sent: number;
  readonly completed: number;
  readonly rejected: number;
  readonly failed: number;
  readonly dropped: number;
  readonly rejectedBy: Readonly<Record<string, number>>;
  /** Failed and dropped requests by reason (a dropped one's reason says the load generator dropped it). */
  readonly failedBy: Readonly<Record<string, number>>;
  /** Of completed requests, ms. */
  readonly ttftMs: Percentiles;
  readonly e2eMs: Percentiles;
  /** The tier's TTFT objective. */
  readonly sloTtftMs: number;
  /** Completed with TTFT within the objective. */
  readonly metSlo: number;
  /** metSlo / requests: a refused or dropped request missed its objective too. */
  readonly sloAttainment: number;
  /** metSlo per second of the replay window. */
  readonly goodputPerS: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
  /** costUsd per 1,000 tokens (input + output) of completed requests. */
  readonly costPer1kTokensUsd: number;
}

/** Reason text with the numbers taken out (`retry in 1200 ms` and `retry in 900 ms` are one reason). */
export function reasonGroup(code: string, message: string): string {
  const text = message
    .replace(/\d[\d,.]*/g, 'N')
    .replace(/\s+/g, ' ')
    .trim();
  const short = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return short ? `${code}: ${short}` : code;
}

const count = (records: readonly RequestRecord[], key: 'reason') => {
  const out: Record<string, number> = {};
  for (const r of records) out[r[key] ?? '?'] = (out[r[key] ?? '?'] ?? 0) + 1;
  return out;
};

const percentiles = (values: number[]): Percentiles => {
  const s = values.sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99) };
};

/** One tier's figures (or all requests', with `sloTtftMs` per record's tier). */
export function aggregate(records: readonly RequestRecord[], sloTtftMs: (tier: TierName) => number, windowS: number): TierResult {
  const of = (o: LoadOutcome) => records.filter((r) => r.outcome === o);
  const completed = of('completed');
  const met = completed.filter((r) => r.ttftMs !== undefined && r.ttftMs <= sloTtftMs(r.tier)).length;
  const inputTokens = completed.reduce((a, r) => a + r.inputTokens, 0);
  const outputTokens = completed.reduce((a, r) => a + r.outputTokens, 0);
  const costUsd = records.reduce((a, r) => a + (r.costMicros ?? 0), 0) / 1e6;
  const tiers = new Set(records.map((r) => r.tier));
  return {
    requests: records.length,
    sent: records.length - of('dropped').length,
    completed: completed.length,
    rejected: of('rejected').length,
    failed: of('failed').length,
    dropped: of('dropped').length,
    rejectedBy: count(of('rejected'), 'reason'),
    failedBy: count([...of('failed'), ...of('dropped')], 'reason'),
    ttftMs: percentiles(completed.flatMap((r) => (r.ttftMs === undefined ? [] : [r.ttftMs]))),
    e2eMs: percentiles(completed.flatMap((r) => (r.e2eMs === undefined ? [] : [r.e2eMs]))),
    sloTtftMs: tiers.size === 1 ? sloTtftMs([...tiers][0]!) : Number.NaN,
    metSlo: met,
    sloAttainment: records.length ? met / records.length : Number.NaN,
    goodputPerS: met / Math.max(windowS, 1e-3),
    inputTokens,
    outputTokens,
    costUsd,
    costPer1kTokensUsd: inputTokens + outputTokens > 0 ? costUsd / ((inputTokens + outputTokens) / 1_000) : Number.NaN,
  };
}

/** Per tier that had requests, and `all`. */
export function aggregateByTier(
  records: readonly RequestRecord[],
  sloTtftMs: (tier: TierName) => number,
  windowS: number,
): { tiers: Partial<Record<TierName, TierResult>>; all: TierResult } {
  const tiers: Partial<Record<TierName, TierResult>> = {};
  for (const t of ['realtime', 'internal', 'batch'] as const) {
    const mine = records.filter((r) => r.tier === t);
    if (mine.length) tiers[t] = aggregate(mine, sloTtftMs, windowS);
  }
  return { tiers, all: aggregate(records, sloTtftMs, windowS) };
}

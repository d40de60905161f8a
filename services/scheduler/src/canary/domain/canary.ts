import type { CanaryThresholds, Route } from '../../config.js';

/** What one version did recently. */
export interface VersionSummary {
  /** Terminal outcomes seen (completed or failed; rejections and cancellations are not the version's doing). */
  readonly requests: number;
  readonly failures: number;
  readonly errorRate: number;
  readonly ttftSamples: number;
  /** 90th percentile TTFT, simulated ms; 0 without samples. */
  readonly ttftP90: number;
}

export interface CanaryStats {
  outcome(version: string, failed: boolean, atMs: number): void;
  ttft(version: string, ms: number, atMs: number): void;
  summary(versions: readonly string[], nowMs: number): VersionSummary;
  /** Forgets a version's history (a new canary starts clean). */
  reset(version: string): void;
  /** Samples held, all versions: at most about twice what one window brings (the soak's memory bound). */
  readonly held: number;
}

/** Per version and kind, the most recent samples a summary reads. */
const MAX_SAMPLES = 20_000;

/**
 * Sliding-window outcome and TTFT samples per version. Samples arrive in time order; those
 * out of the window (or past MAX_SAMPLES) are dropped as new ones arrive, in one splice once
 * they are half the list: amortised O(1) a sample. Dropping only when a canary was judged
 * kept every terminal outcome of the last MAX_SAMPLES while no canary ran (one shifted out per
 * outcome, a 20,000-element move each), which the soak saw as steady growth.
 */
export function createCanaryStats(windowMs: number): CanaryStats {
  const outcomes = new Map<string, Array<{ atMs: number; failed: boolean }>>();
  const ttfts = new Map<string, Array<{ atMs: number; ms: number }>>();
  /** How many samples at the front are out of the window at `nowMs`, or beyond MAX_SAMPLES. */
  const stale = (list: ReadonlyArray<{ atMs: number }>, nowMs: number) => {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (nowMs - list[mid]!.atMs > windowMs) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(lo, list.length - MAX_SAMPLES);
  };
  const push = <T extends { atMs: number }>(m: Map<string, T[]>, version: string, v: T) => {
    const list = m.get(version) ?? [];
    list.push(v);
    const n = stale(list, v.atMs);
    if (2 * n >= list.length) list.splice(0, n);
    m.set(version, list);
  };
  const recent = <T extends { atMs: number }>(m: Map<string, T[]>, version: string, nowMs: number): T[] => {
    const list = m.get(version) ?? [];
    list.splice(0, stale(list, nowMs));
    return list;
  };
  const count = (m: Map<string, unknown[]>) => [...m.values()].reduce((n, l) => n + l.length, 0);
  return {
    outcome: (version, failed, atMs) => push(outcomes, version, { atMs, failed }),
    ttft: (version, ms, atMs) => push(ttfts, version, { atMs, ms }),
    summary(versions, nowMs) {
      const os = versions.flatMap((v) => recent(outcomes, v, nowMs));
      const ts = versions
        .flatMap((v) => recent(ttfts, v, nowMs))
        .map((t) => t.ms)
        .sort((a, b) => a - b);
      const failures = os.filter((o) => o.failed).length;
      return {
        requests: os.length,
        failures,
        errorRate: os.length ? failures / os.length : 0,
        ttftSamples: ts.length,
        ttftP90: ts.length ? ts[Math.min(ts.length - 1, Math.floor(ts.length * 0.9))]! : 0,
      };
    },
    reset(version) {
      outcomes.delete(version);
      ttfts.delete(version);
    },
    get held() {
      return count(outcomes) + count(ttfts);
    },
  };
}

export type CanaryVerdict =
  | { readonly verdict: 'keep'; readonly reason: string }
  | { readonly verdict: 'rollback'; readonly reason: string; readonly canary: VersionSummary; readonly baseline: VersionSummary };

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * Judges a route's running canary against the rest of the route (its baseline): roll back
 * when the canary's error rate exceeds the baseline's by more than the allowed delta, or its
 * p90 TTFT exceeds the baseline's by the allowed factor, once the canary has enough outcomes.
 */
export function judgeCanary(route: Route, stats: CanaryStats, t: CanaryThresholds, nowMs: number): CanaryVerdict {
  const canary = route.canary;
  if (!canary || canary.status !== 'running') return { verdict: 'keep', reason: 'no running canary' };
  const baselineVersions = route.versions.map((v) => v.version).filter((v) => v !== canary.version);
  const c = stats.summary([canary.version], nowMs);
  const b = stats.summary(baselineVersions, nowMs);
  if (c.requests < t.minRequests) return { verdict: 'keep', reason: `canary has ${c.requests} of ${t.minRequests} outcomes needed` };
  const baseRate = b.requests >= t.minRequests ? b.errorRate : 0;
  if (c.errorRate - baseRate > t.maxErrorRateDelta) {
    return {
      verdict: 'rollback',
      canary: c,
      baseline: b,
      reason: `error rate ${pct(c.errorRate)} (${c.failures} of ${c.requests}) vs baseline ${pct(baseRate)} (${b.failures} of ${b.requests}); allowed +${pct(t.maxErrorRateDelta)}`,
    };
  }
  if (c.ttftSamples >= t.minRequests && b.ttftSamples >= t.minRequests && c.ttftP90 > t.maxTtftRatio * b.ttftP90) {
    return {
      verdict: 'rollback',
      canary: c,
      baseline: b,
      reason: `p90 TTFT ${Math.round(c.ttftP90)} ms vs baseline ${Math.round(b.ttftP90)} ms; allowed ${t.maxTtftRatio}x`,
    };
  }
  return {
    verdict: 'keep',
    reason: `healthy: error rate ${pct(c.errorRate)} vs ${pct(baseRate)}, p90 TTFT ${Math.round(c.ttftP90)} vs ${Math.round(b.ttftP90)} ms`,
  };
}

/** The route after a rollback: the canary keeps its entry (for the record) with no traffic. */
export function rolledBack(route: Route, reason: string, nowMs: number): Route {
  return {
    ...route,
    versions: route.versions.map((v) => (v.version === route.canary?.version ? { ...v, weight: 0 } : v)),
    canary: route.canary && { ...route.canary, status: 'rolled-back', reason, sinceUnixMs: nowMs },
  };
}

import { Outcome, outcomeName, tierFromText, tierLabel, type BillableUsage, type OutcomeName, type UsageRecorded } from '@switchyard/contracts';
import { gpuMicros } from '@switchyard/db';

/** One usage as metering records it: the quantities billing will be asked to post. */
export interface MeteredUsage {
  readonly usageId: string;
  readonly requestId: string;
  readonly tenant: string;
  readonly feature: string;
  readonly model: string;
  /** Tier name, `unspecified` when the event had none. */
  readonly tier: string;
  readonly pool: string;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  /** GPU time in whole microseconds. */
  readonly gpuMicros: number;
  readonly ttftMs: number;
  readonly recordedUnixMs: number;
  /** How the attempt ended; `completed` for usage recorded before outcomes were. */
  readonly outcome: OutcomeName;
}

const OUTCOMES: Readonly<Record<OutcomeName, Outcome>> = {
  completed: Outcome.OUTCOME_COMPLETED,
  failed: Outcome.OUTCOME_FAILED,
  cancelled: Outcome.OUTCOME_CANCELLED,
  expired: Outcome.OUTCOME_EXPIRED,
  rejected: Outcome.OUTCOME_REJECTED,
};

/** The outcome a usage record names: absent (older records) or unspecified means completed. */
export function usageOutcome(outcome: Outcome | undefined): OutcomeName {
  if (outcome === undefined || outcome === Outcome.OUTCOME_UNSPECIFIED) return 'completed';
  try {
    return outcomeName(outcome);
  } catch {
    // An outcome this build does not know bills nothing: never invent a charge.
    return 'failed';
  }
}

/**
 * Whether an attempt's tokens are billed. A completion is; so is work the caller stopped (a
 * cancel, a deadline), up to what was streamed, as OpenAI's API bills it. A platform failure
 * (crash, cut stream, injected error) is not: its GPU time stays, as the platform's cost.
 */
export const billsTokens = (outcome: OutcomeName): boolean => outcome === 'completed' || outcome === 'cancelled' || outcome === 'expired';

/**
 * A usage event as metering stores it, in one step: tier by name, GPU time in whole
 * microseconds (a worker reports milliseconds), recorded at `recordedUnixMs` (the event's time).
 */
export function meteredUsage(usage: UsageRecorded, recordedUnixMs: number): MeteredUsage {
  return stored(usage, gpuSecondsOf(usage.gpuMs), usage.ttftMs, recordedUnixMs);
}

/** What billing would be sent for usage, as metering stores it (tests and tools that start from billable usage). */
export function toMetered(billable: BillableUsage, ttftMs: number): MeteredUsage {
  return stored(billable, billable.gpuSeconds, ttftMs, billable.recordedUnixMs);
}

const NO_TOKENS = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };

const gpuSecondsOf = (gpuMs: number) => gpuMs / 1000;

function stored(u: Omit<BillableUsage, 'gpuSeconds' | 'recordedUnixMs'>, gpuSeconds: number, ttftMs: number, recordedUnixMs: number): MeteredUsage {
  const outcome = usageOutcome(u.outcome);
  // Billable quantities: a failed attempt keeps its GPU time and bills no tokens.
  const t = (billsTokens(outcome) ? u.usage : undefined) ?? NO_TOKENS;
  return {
    usageId: u.usageId,
    requestId: u.requestId,
    tenant: u.tenant,
    feature: u.feature,
    model: u.model,
    tier: tierLabel(u.tier),
    pool: u.pool,
    inputTokens: t.inputTokens,
    cachedInputTokens: t.cachedInputTokens,
    outputTokens: t.outputTokens,
    gpuMicros: gpuMicros(Math.max(0, gpuSeconds)),
    ttftMs: Number.isFinite(ttftMs) ? ttftMs : 0,
    recordedUnixMs,
    outcome,
  };
}

/**
 * The billable usage metering publishes, built from what it recorded first, so a replay of
 * a usage event with another envelope time is billed exactly as it was metered.
 */
export function toBillableFromMetered(m: MeteredUsage): BillableUsage {
  return {
    usageId: m.usageId,
    requestId: m.requestId,
    tenant: m.tenant,
    feature: m.feature,
    model: m.model,
    tier: tierFromText(m.tier),
    pool: m.pool,
    usage: { inputTokens: m.inputTokens, cachedInputTokens: m.cachedInputTokens, outputTokens: m.outputTokens },
    gpuSeconds: m.gpuMicros / 1e6,
    recordedUnixMs: m.recordedUnixMs,
    outcome: OUTCOMES[m.outcome],
  };
}

export const minuteOf = (unixMs: number): number => Math.floor(unixMs / 60_000) * 60_000;

/** What a batch adds to one per-minute rollup row. */
export interface RollupDelta {
  readonly tenant: string;
  readonly minuteMs: number;
  readonly feature: string;
  readonly model: string;
  readonly tier: string;
  readonly pool: string;
  readonly requests: number;
  readonly inputTokens: number;
  readonly cachedInputTokens: number;
  readonly outputTokens: number;
  readonly gpuMicros: number;
}

/** Sums usage per (tenant, minute, feature, model, tier, pool), ordered by that key: the lock order. */
export function rollupDeltas(usages: readonly MeteredUsage[]): RollupDelta[] {
  const rows = new Map<string, { -readonly [K in keyof RollupDelta]: RollupDelta[K] }>();
  for (const u of usages) {
    const minuteMs = minuteOf(u.recordedUnixMs);
    const key = [u.tenant, String(minuteMs).padStart(16, '0'), u.feature, u.model, u.tier, u.pool].join('\u0000');
    const row = rows.get(key) ?? {
      tenant: u.tenant,
      minuteMs,
      feature: u.feature,
      model: u.model,
      tier: u.tier,
      pool: u.pool,
      requests: 0,
      inputTokens: 0,
      cachedInputTokens: 0,
      outputTokens: 0,
      gpuMicros: 0,
    };
    row.requests += 1;
    row.inputTokens += u.inputTokens;
    row.cachedInputTokens += u.cachedInputTokens;
    row.outputTokens += u.outputTokens;
    row.gpuMicros += u.gpuMicros;
    rows.set(key, row);
  }
  return [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
}

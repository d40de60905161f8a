import { isDomainError, type TierName, type TokenUsage } from '@switchyard/contracts';
import { Counter, Gauge, Histogram, type Registry } from '@switchyard/telemetry';

/**
 * Each tier's time-to-first-token objective in seconds: the scheduler's defaults
 * (`scheduling.tiers.<tier>.ttftMs` in `services/scheduler/src/config.ts`). They are bucket
 * boundaries, so `bucket{le=objective} / count` is an exact attainment, and
 * `deploy/prometheus/rules/slo.rules.yml` names the same values.
 */
export const TTFT_OBJECTIVE_SECONDS: Readonly<Record<TierName, number>> = { realtime: 1, internal: 5, batch: 600 };

/** TTFT and end-to-end buckets: every tier's objective is one of them. */
export const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** Why admission turned a call away before it was admitted. */
export type RefusalReason = 'auth' | 'invalid' | 'tier' | 'size' | 'policy' | 'rate' | 'budget' | 'idempotency' | 'unavailable';

/** How a call that reached the generation path ended, as `outcome` on `switchyard_admission_requests_total`. */
export type CallOutcome = 'completed' | 'failed' | 'cancelled' | 'expired' | 'rejected' | 'blocked' | 'refused';

export interface AdmissionMetrics {
  /** A refusal; `tier` is "unknown" when the call was refused before it was read (auth, invalid). */
  refused(reason: RefusalReason, tier?: TierName): void;
  /** A call entered the generation path (in flight until {@link ended}). */
  started(tier: TierName): void;
  /**
   * A call left the generation path. Times in Unix ms; `firstTokenMs` 0 when no token came.
   * Positional, so the hot path builds no object for it.
   */
  ended(tier: TierName, model: string, outcome: CallOutcome, startedMs: number, firstTokenMs: number, endedMs: number, usage: TokenUsage | undefined): void;
}

interface ModelChildren {
  readonly ttft: ReturnType<Histogram['labels']>;
  readonly e2e: ReturnType<Histogram['labels']>;
  readonly prompt: ReturnType<Counter['labels']>;
  readonly completion: ReturnType<Counter['labels']>;
  readonly outcomes: Map<CallOutcome, ReturnType<Counter['labels']>>;
}

/**
 * The outcome of a call admitted (or not) by the generation path, from the error it ended
 * with: after admission the codes `runGeneration` throws name the terminal outcome.
 */
export function outcomeOf(error: unknown, admitted: boolean, callerLeft: boolean): CallOutcome {
  const code = isDomainError(error) ? error.code : 'INTERNAL';
  if (callerLeft) return 'cancelled';
  if (!admitted) return REFUSALS.has(code) ? 'refused' : 'failed';
  switch (code) {
    case 'RESOURCE_EXHAUSTED':
      return 'rejected';
    case 'DEADLINE_EXCEEDED':
      return 'expired';
    case 'FAILED_PRECONDITION':
      return 'cancelled';
    case 'PERMISSION_DENIED':
      return 'blocked';
    default:
      return 'failed';
  }
}

const REFUSALS: ReadonlySet<string> = new Set(['PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'INVALID_ARGUMENT', 'FAILED_PRECONDITION', 'UNAVAILABLE']);

/**
 * Admission's request metrics, without a tenant label (cardinality). Label children are
 * cached per tier and model, so the per-call cost is a few map lookups and increments.
 */
export function createAdmissionMetrics(registry: Registry): AdmissionMetrics {
  const registers = [registry];
  const requests = new Counter({
    name: 'switchyard_admission_requests_total',
    help: 'Calls that reached the generation path, by how they ended (refused = before admission)',
    labelNames: ['tier', 'model', 'outcome'],
    registers,
  });
  const refusals = new Counter({
    name: 'switchyard_admission_refusals_total',
    help: 'Calls refused before admission, by why',
    labelNames: ['tier', 'reason'],
    registers,
  });
  const ttft = new Histogram({
    name: 'switchyard_admission_ttft_seconds',
    help: "Time from a call's arrival to its first token, as the caller saw it",
    labelNames: ['tier', 'model'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const missed = new Counter({
    name: 'switchyard_admission_ttft_missed_total',
    help: "Admitted calls that ended without a first token for a reason not the caller's (failed, rejected, expired): misses of the TTFT objective",
    labelNames: ['tier'],
    registers,
  });
  const e2e = new Histogram({
    name: 'switchyard_admission_e2e_seconds',
    help: "Time from a call's arrival to its end, every outcome after admission",
    labelNames: ['tier', 'model'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const tokens = new Counter({ name: 'switchyard_admission_tokens_total', help: 'Tokens of ended calls', labelNames: ['tier', 'model', 'kind'], registers });
  const inFlight = new Gauge({ name: 'switchyard_admission_in_flight', help: 'Calls in the generation path now', labelNames: ['tier'], registers });
  // Present from the start, so an attainment rule always has its denominator's second term.
  const tiers = Object.keys(TTFT_OBJECTIVE_SECONDS);
  const missedOf = new Map(tiers.map((t) => [t, missed.labels(t)]));
  const inFlightOf = new Map(tiers.map((t) => [t, inFlight.labels(t)]));
  for (const child of missedOf.values()) child.inc(0);
  for (const child of inFlightOf.values()) child.set(0);

  const byTier = new Map<string, Map<string, ModelChildren>>();
  const childrenOf = (tier: string, model: string): ModelChildren => {
    let models = byTier.get(tier);
    if (!models) byTier.set(tier, (models = new Map()));
    let c = models.get(model);
    if (!c) {
      c = {
        ttft: ttft.labels(tier, model),
        e2e: e2e.labels(tier, model),
        prompt: tokens.labels(tier, model, 'prompt'),
        completion: tokens.labels(tier, model, 'completion'),
        outcomes: new Map(),
      };
      models.set(model, c);
    }
    return c;
  };
  const count = (c: ModelChildren, tier: string, model: string, outcome: CallOutcome) => {
    let child = c.outcomes.get(outcome);
    if (!child) c.outcomes.set(outcome, (child = requests.labels(tier, model, outcome)));
    child.inc();
  };

  return {
    refused(reason, tier) {
      refusals.labels(tier ?? 'unknown', reason).inc();
    },
    started(tier) {
      inFlightOf.get(tier)?.inc();
    },
    ended(tier, model, outcome, startedMs, firstTokenMs, endedMs, usage) {
      inFlightOf.get(tier)?.dec();
      const c = childrenOf(tier, model);
      count(c, tier, model, outcome);
      if (outcome === 'refused') return;
      c.e2e.observe((endedMs - startedMs) / 1000);
      if (firstTokenMs > 0) c.ttft.observe((firstTokenMs - startedMs) / 1000);
      else if (outcome === 'failed' || outcome === 'rejected' || outcome === 'expired') missedOf.get(tier)?.inc();
      if (usage) {
        c.prompt.inc(usage.inputTokens);
        c.completion.inc(usage.outputTokens);
      }
    },
  };
}

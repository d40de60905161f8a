import { Outcome, outcomeName, tierLabel, type BillableUsage, type Event, type TokenUsage } from '@switchyard/contracts';
import { priceUsage, type PriceBook } from '@switchyard/pricing';
import type { Row } from './replay-columns.js';
import type { ReplayStream } from './replay-window.js';

/** One stored message: where it was and when the stream stored it. */
export interface StoredEvent {
  readonly subject: string;
  readonly storedMs: number;
  readonly event: Event;
}

/** The price-book version in force at a time (billing's catalog, or the default book). */
export type BookAt = (atMs: number) => PriceBook;

const NO_TOKENS: TokenUsage = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };

/** An outcome's name; absent or unspecified is `completed`, as metering reads usage from before outcomes. */
export function outcomeOf(outcome: Outcome | undefined): string {
  if (outcome === undefined || outcome === Outcome.OUTCOME_UNSPECIFIED) return 'completed';
  try {
    return outcomeName(outcome);
  } catch {
    return 'unknown';
  }
}

/**
 * Whether usage of this outcome bills its tokens. Mirrors metering's rule (a service's code a
 * tool may not import): completions and caller-ended work (cancelled, expired) are billed; a
 * platform failure bills nothing and its GPU time stays the platform's cost.
 */
export const billsTokens = (outcome: string): boolean => outcome === 'completed' || outcome === 'cancelled' || outcome === 'expired';

/**
 * What billing charges for usage: its billable tokens priced by the version in force when it
 * was recorded, as billing's posting does. The capacity class is left out: a reservation
 * holder's usage on a reserved pool is charged less by billing (reservations live only in the
 * ledger), so such rows show the on-demand price. `null` when the book prices no such model.
 */
export function charge(u: Pick<BillableUsage, 'model' | 'tier' | 'usage'>, atMs: number, billable: boolean, bookAt: BookAt): [number | null, string] {
  if (!billable) return [0, ''];
  const book = bookAt(atMs);
  if (!book.models[u.model]) return [null, book.version];
  // priceUsage reads the model, tier and tokens only; the rest of BillableUsage is not needed.
  const priced = priceUsage(u as BillableUsage, book);
  return [priced.amountMicros, priced.priceVersion];
}

const tokens = (t: TokenUsage | undefined) => {
  const u = t ?? NO_TOKENS;
  return [u.inputTokens, u.cachedInputTokens, u.outputTokens];
};

/**
 * The flat row of one event of `stream`, in the order of `REPLAY_COLUMNS[stream]`; undefined
 * for an event of another kind (a budget state on BILLING, say), which a replay skips.
 */
export function replayRow(stream: ReplayStream, stored: StoredEvent, bookAt: BookAt): Row | undefined {
  const { event, subject, storedMs } = stored;
  const env = event.envelope;
  const timeMs = env?.timeUnixMs || storedMs;
  const common = (tenant: string | undefined, requestId: string | undefined): Row => [
    timeMs,
    stream,
    subject,
    env?.id ?? '',
    requestId || env?.requestId || '',
    tenant || env?.tenant || '',
  ];
  const p = event.payload;
  switch (stream) {
    case 'USAGE': {
      if (p?.$case !== 'usageRecorded') return undefined;
      const u = p.usageRecorded;
      const outcome = outcomeOf(u.outcome);
      const billable = billsTokens(outcome);
      const t = u.usage ?? NO_TOKENS;
      // Metering bills a failure no tokens (cost 0); the row still shows what it ran.
      const [cost, version] = charge(u, timeMs, billable, bookAt);
      const row = common(u.tenant, u.requestId);
      row.push(u.usageId, tierLabel(u.tier), u.model, u.feature, u.pool, u.workerId, outcome);
      row.push(t.inputTokens, t.cachedInputTokens, t.outputTokens, u.gpuMs, u.queueMs, u.ttftMs, u.totalMs, billable, cost, version);
      return row;
    }
    case 'BILLING': {
      if (p?.$case !== 'billableUsage') return undefined;
      const u = p.billableUsage;
      const outcome = outcomeOf(u.outcome);
      const billable = billsTokens(outcome);
      const t = u.usage ?? NO_TOKENS;
      const [cost, version] = charge(u, u.recordedUnixMs, billable, bookAt);
      const row = common(u.tenant, u.requestId);
      row.push(u.usageId, tierLabel(u.tier), u.model, u.feature, u.pool, outcome);
      row.push(t.inputTokens, t.cachedInputTokens, t.outputTokens, u.gpuSeconds * 1000, billable, cost, version);
      return row;
    }
    case 'LIFECYCLE': {
      if (p?.$case !== 'requestTerminated') return undefined;
      const t = p.requestTerminated;
      return [
        ...common(t.tenant, t.requestId),
        outcomeOf(t.outcome),
        t.reason,
        t.finishReason,
        tierLabel(t.tier),
        t.model,
        t.feature,
        t.pool,
        t.workerId,
        t.attempt,
        ...tokens(t.usage),
        t.chunkCount,
      ];
    }
    case 'DECISIONS': {
      if (p?.$case !== 'decision') return undefined;
      const d = p.decision;
      return [...common(undefined, undefined), d.service, d.action, d.chosen, d.reason, d.policyVersion, d.latencyMs];
    }
    case 'REQUESTS': {
      const spec =
        p?.$case === 'requestAdmitted' ? p.requestAdmitted.request : p?.$case === 'replacementRequested' ? p.replacementRequested.request : undefined;
      if (!spec || !p) return undefined;
      const replaced = p.$case === 'replacementRequested' ? p.replacementRequested : undefined;
      // The prompt's text never leaves: analysts get its size only.
      return [
        ...common(spec.tenant, spec.requestId),
        replaced ? 'replace' : 'admitted',
        tierLabel(spec.tier),
        spec.model,
        spec.feature,
        spec.promptTokens,
        spec.maxTokens,
        replaced?.fromPool ?? '',
        replaced?.reason ?? '',
      ];
    }
  }
}

import { tierLabel, type Event, type TokenUsage } from '@switchyard/contracts';
import { billsTokens, charge, outcomeOf, type BookAt } from '@switchyard/live-model';
import type { Row } from './replay-columns.js';
import type { ReplayStream } from './replay-window.js';

/** One stored message: where it was and when the stream stored it. */
export interface StoredEvent {
  readonly subject: string;
  readonly storedMs: number;
  readonly event: Event;
}

// Pricing a usage and the outcomes that bill moved to @switchyard/live-model (the console in the
// scheduler reads them too); replays keep importing them from here.
export { billsTokens, charge, outcomeOf, type BookAt } from '@switchyard/live-model';

const NO_TOKENS: TokenUsage = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };

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

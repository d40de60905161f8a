import type { TierName } from '@switchyard/contracts';
import type { TraceRow } from './trace-format.js';

/** One request the REQUESTS stream says admission took in the window. */
export interface AdmittedRequest {
  readonly requestId: string;
  readonly admittedMs: number;
  readonly tenant: string;
  readonly tier: TierName;
  readonly feature: string;
  readonly model: string;
  readonly promptTokens: number;
  readonly maxTokens: number;
}

export interface WindowTrace {
  /** The window's requests for `model` as trace rows, arrival relative to the window's start. */
  readonly rows: readonly TraceRow[];
  /** The model the rows ask for: the one asked for, else the window's most requested. */
  readonly model: string;
  /** Requests by model, most requested first: what the window held. */
  readonly models: ReadonlyArray<readonly [string, number]>;
  /** Rows whose output is what the request produced (its usage), not what it asked for. */
  readonly measuredOutputs: number;
}

/**
 * A recorded window as a trace: each admitted request arrives when admission took it, with
 * its prompt, tier, tenant and feature. Its output is the tokens its usage says it produced
 * (a request that stopped early is forecast as the shorter request it was); a request with no
 * usage (refused by the scheduler, expired in a queue) asks for its `max_tokens`, as it did.
 * A request re-placed to a second pool appears once: the stream holds its admission once.
 * The forecast simulates one model, so the rows are those of `model` (default: the most
 * requested); the others are counted in `models` for the caller to say so.
 */
export function windowTrace(admitted: readonly AdmittedRequest[], outputTokens: ReadonlyMap<string, number>, sinceMs: number, model?: string): WindowTrace {
  const counts = new Map<string, number>();
  for (const a of admitted) counts.set(a.model, (counts.get(a.model) ?? 0) + 1);
  const models = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const chosen = model ?? models[0]?.[0] ?? '';
  let measured = 0;
  const rows: TraceRow[] = [];
  for (const a of admitted) {
    if (a.model !== chosen) continue;
    const produced = outputTokens.get(a.requestId);
    if (produced !== undefined) measured++;
    rows.push({
      line: rows.length + 1,
      atMs: Math.max(0, a.admittedMs - sinceMs),
      inputTokens: a.promptTokens,
      outputTokens: produced ?? a.maxTokens,
      tenant: a.tenant,
      tier: a.tier,
      feature: a.feature,
    });
  }
  rows.sort((a, b) => a.atMs - b.atMs);
  return { rows, model: chosen, models, measuredOutputs: measured };
}

import type { TierName } from '@switchyard/contracts';
import { drawTier, seededRandom, type TierMix } from './tier-mix.js';
import type { TraceRow } from './trace-format.js';

export interface PlanOptions {
  /** Trace time per wall time: 2 replays a minute of trace in 30 s. */
  readonly speed: number;
  /** Wall seconds of the trace to replay from its start. Default: all of it. */
  readonly durationS?: number;
  /** Drawn for rows without a tier (every row of the Azure and Mooncake traces). */
  readonly tierMix: TierMix;
  /** The tenants requests are spread over (labels of the API keys); a row's own tenant maps onto them. */
  readonly tenants: readonly string[];
  /** Admission's prompt limit: longer rows are skipped, counted. */
  readonly maxPromptTokens: number;
  /** Admission's max_tokens limit: longer outputs are asked for this many, counted. */
  readonly maxOutputTokens: number;
  readonly seed: number;
}

export interface PlannedRequest {
  readonly index: number;
  /** Line of the trace the request came from. */
  readonly line: number;
  /** When to send it, ms after the replay starts (trace time / speed). */
  readonly sendAtMs: number;
  readonly tier: TierName;
  readonly tenant: string;
  readonly promptTokens: number;
  readonly maxTokens: number;
  /** The row's feature, when it has one. */
  readonly feature?: string;
  readonly hashIds?: readonly number[];
}

export interface LoadPlan {
  readonly requests: readonly PlannedRequest[];
  /** Rows over the prompt limit, left out. */
  readonly skippedOverPromptLimit: number;
  /** Rows past `durationS`, left out. */
  readonly skippedPastDuration: number;
  /** Rows whose output was over the max_tokens limit and were asked for the limit. */
  readonly clampedOutput: number;
  /** Wall ms from the first send to the last. */
  readonly spanMs: number;
}

/**
 * Turns trace rows into timed requests: arrival / speed, a tier (the row's, else drawn), a
 * tenant (the row's mapped onto the keys, else drawn), sizes within admission's limits. Rows
 * asking for 0 output tokens ask for 1, as max_tokens 0 would mean admission's default.
 */
export function planLoad(rows: readonly TraceRow[], o: PlanOptions): LoadPlan {
  if (!(o.speed > 0)) throw new Error('--speed must be above 0');
  if (o.tenants.length === 0) throw new Error('no tenant to send as: at least one API key is needed');
  const random = seededRandom(o.seed);
  const requests: PlannedRequest[] = [];
  let overPrompt = 0;
  let pastDuration = 0;
  let clamped = 0;
  for (const r of rows) {
    // Draw for every row, used or not, so one seed gives one tier and tenant per row whatever is skipped.
    const tier = r.tier ?? drawTier(o.tierMix, random());
    const drawnTenant = o.tenants[Math.floor(random() * o.tenants.length)]!;
    const sendAtMs = r.atMs / o.speed;
    if (o.durationS !== undefined && sendAtMs >= o.durationS * 1_000) {
      pastDuration++;
      continue;
    }
    if (r.inputTokens > o.maxPromptTokens) {
      overPrompt++;
      continue;
    }
    if (r.outputTokens > o.maxOutputTokens) clamped++;
    requests.push({
      index: requests.length,
      line: r.line,
      sendAtMs,
      tier,
      tenant: r.tenant === undefined ? drawnTenant : tenantFor(r.tenant, o.tenants),
      promptTokens: Math.max(1, r.inputTokens),
      maxTokens: Math.max(1, Math.min(r.outputTokens, o.maxOutputTokens)),
      ...(r.feature !== undefined ? { feature: r.feature } : {}),
      ...(r.hashIds ? { hashIds: r.hashIds } : {}),
    });
  }
  return {
    requests,
    skippedOverPromptLimit: overPrompt,
    skippedPastDuration: pastDuration,
    clampedOutput: clamped,
    spanMs: requests.length ? requests.at(-1)!.sendAtMs - requests[0]!.sendAtMs : 0,
  };
}

/** A trace's tenant: the key of that name, else one of the keys by a stable hash of the name. */
function tenantFor(name: string, tenants: readonly string[]): string {
  if (tenants.includes(name)) return name;
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return tenants[(h >>> 0) % tenants.length]!;
}

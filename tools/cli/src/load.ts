import { tierFromName, type BillableUsage, type TierName } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, priceUsage, type PriceBook } from '@switchyard/pricing';
import { planLoad, type PlannedRequest } from './domain/load-plan.js';
import { aggregateByTier, type RequestRecord, type TierResult } from './domain/load-result.js';
import { promptText } from './domain/prompt-text.js';
import type { TierMix } from './domain/tier-mix.js';
import type { Trace } from './domain/trace-format.js';
import type { LoadCaller, LoadCallResult } from './load-callers.js';

export interface LoadOptions {
  readonly trace: Trace;
  /** Named in the result only. */
  readonly traceFile: string;
  readonly protocol: 'grpc' | 'http';
  readonly model: string;
  /** Trace time per wall time. Default 1. */
  readonly speed: number;
  /** Wall seconds of the trace to replay. Default all of it. */
  readonly durationS?: number;
  readonly tierMix: TierMix;
  readonly seed: number;
  /** Above this many requests in flight, further ones are dropped, counted. Default 2,000. */
  readonly maxInFlight: number;
  readonly maxPromptTokens: number;
  readonly maxOutputTokens: number;
  /** Each request's deadline. */
  readonly timeoutMs: number;
  /** TTFT objective per tier. */
  readonly sloTtftMs: Readonly<Record<TierName, number>>;
  /** Prices completed usage. Default the default price book (v1). */
  readonly priceBook?: PriceBook;
}

export interface LoadDeps {
  /** One caller per tenant, by the tenant's label. */
  readonly callers: Readonly<Record<string, LoadCaller>>;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Called after each send and each end; cheap, the caller throttles its drawing. */
  readonly onProgress?: (p: LoadProgress) => void;
}

export interface LoadProgress {
  readonly total: number;
  readonly sent: number;
  readonly ended: number;
  readonly inFlight: number;
  readonly completed: number;
  readonly rejected: number;
  readonly failed: number;
  readonly dropped: number;
}

export interface LoadResult {
  readonly trace: { readonly file: string; readonly format: string; readonly rows: number };
  readonly options: Omit<LoadOptions, 'trace' | 'priceBook'>;
  readonly startedAt: string;
  /** Rows left out or changed to fit admission's limits and the duration. */
  readonly plan: { readonly requests: number; readonly skippedOverPromptLimit: number; readonly skippedPastDuration: number; readonly clampedOutput: number };
  /** Wall seconds from the first send to the last (goodput is per second of it; at least 1). */
  readonly windowS: number;
  /** Wall seconds of the whole run, the last request's end included. */
  readonly wallS: number;
  /** The latest any request went out after it was due, ms: a replay that could not keep up says so here. */
  readonly maxSendLagMs: number;
  readonly cost: { readonly source: string; readonly priced: boolean };
  readonly tiers: Partial<Record<TierName, TierResult>>;
  readonly all: TierResult;
  readonly records: readonly RequestRecord[];
}

/**
 * Replays a trace open-loop: each request goes out when it is due, whether or not earlier ones
 * ended, so a slow system sees the load the trace had rather than a politely waiting client.
 */
export async function runLoad(o: LoadOptions, deps: LoadDeps): Promise<LoadResult> {
  const tenants = Object.keys(deps.callers);
  const plan = planLoad(o.trace.rows, { ...o, tenants });
  const book = o.priceBook ?? DEFAULT_PRICE_BOOK;
  const priced = book.models[o.model] !== undefined;
  const records: RequestRecord[] = [];
  const progress = { total: plan.requests.length, sent: 0, ended: 0, inFlight: 0, completed: 0, rejected: 0, failed: 0, dropped: 0 };
  const tell = () => deps.onProgress?.({ ...progress });
  const startedAt = new Date(deps.now()).toISOString();
  const start = deps.now();
  let maxLag = 0;
  const running: Promise<void>[] = [];

  const finish = (r: PlannedRequest, sentMs: number, res: LoadCallResult | { outcome: 'dropped'; reason: string }) => {
    const usage = 'inputTokens' in res ? res : { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
    records.push({
      index: r.index,
      line: r.line,
      tier: r.tier,
      tenant: r.tenant,
      scheduledMs: r.sendAtMs,
      sentMs,
      outcome: res.outcome,
      ...(res.reason ? { reason: res.reason } : {}),
      ...('ttftMs' in res && res.ttftMs !== undefined ? { ttftMs: res.ttftMs } : {}),
      ...('e2eMs' in res && res.e2eMs !== undefined ? { e2eMs: res.e2eMs } : {}),
      promptTokens: r.promptTokens,
      maxTokens: r.maxTokens,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      ...(res.outcome === 'completed' && priced ? { costMicros: priceOf(book, o.model, r.tier, usage) } : {}),
    });
    progress[res.outcome]++;
    progress.ended++;
    tell();
  };

  for (const r of plan.requests) {
    const wait = start + r.sendAtMs - deps.now();
    if (wait > 0) await deps.sleep(wait);
    const sentMs = deps.now() - start;
    maxLag = Math.max(maxLag, sentMs - r.sendAtMs);
    if (progress.inFlight >= o.maxInFlight) {
      finish(r, sentMs, { outcome: 'dropped', reason: `dropped by the load generator: ${o.maxInFlight} requests in flight (--max-in-flight)` });
      continue;
    }
    const caller = deps.callers[r.tenant]!;
    const prompt = promptText(Math.max(1, r.promptTokens - caller.promptOverheadTokens), { hashIds: r.hashIds, seed: r.line });
    progress.sent++;
    progress.inFlight++;
    tell();
    running.push(
      caller.call({ model: o.model, prompt, maxTokens: r.maxTokens, tier: r.tier, seed: r.index + 1, timeoutMs: o.timeoutMs }).then((res) => {
        progress.inFlight--;
        finish(r, sentMs, res);
      }),
    );
  }
  await Promise.all(running);
  const windowS = Math.max(plan.spanMs, 1_000) / 1_000;
  records.sort((a, b) => a.index - b.index);
  const { trace, priceBook: _book, ...options } = o;
  return {
    trace: { file: o.traceFile, format: trace.format, rows: trace.rows.length },
    options,
    startedAt,
    plan: {
      requests: plan.requests.length,
      skippedOverPromptLimit: plan.skippedOverPromptLimit,
      skippedPastDuration: plan.skippedPastDuration,
      clampedOutput: plan.clampedOutput,
    },
    windowS,
    wallS: (deps.now() - start) / 1_000,
    maxSendLagMs: maxLag,
    cost: {
      source: priced
        ? `each completed request's reported usage priced with price book ${book.version} (${o.model}; batch tier at its discount, on-demand prices)`
        : `not priced: price book ${book.version} has no price for "${o.model}" (a route name; pass a model version)`,
      priced,
    },
    ...aggregateByTier(records, (t) => o.sloTtftMs[t], windowS),
    records,
  };
}

/** What billing would charge for this usage on on-demand capacity (reserved pools charge less). */
function priceOf(book: PriceBook, model: string, tier: TierName, usage: { inputTokens: number; cachedInputTokens: number; outputTokens: number }): number {
  const billable: BillableUsage = {
    usageId: '',
    requestId: '',
    tenant: '',
    feature: '',
    model,
    tier: tierFromName(tier),
    pool: '',
    usage: { inputTokens: usage.inputTokens, cachedInputTokens: usage.cachedInputTokens, outputTokens: usage.outputTokens },
    gpuSeconds: 0,
    recordedUnixMs: 0,
  };
  return priceUsage(billable, book).amountMicros;
}

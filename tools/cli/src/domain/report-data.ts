import type { LoadOutcome, RequestRecord, TierResult } from './load-result.js';

const TIERS = ['realtime', 'internal', 'batch'] as const;

/** A load record; `feature` and `model` are read when a run carries them (load runs today do not). */
export type ReportRecord = RequestRecord & { readonly feature?: string; readonly model?: string };

/** The part of `switchyard load --json` a report reads. */
export interface ReportRun {
  readonly trace?: { readonly file?: string; readonly format?: string };
  readonly options: { readonly model: string; readonly speed?: number; readonly durationS?: number };
  readonly startedAt?: string;
  readonly windowS: number;
  readonly tiers: Readonly<Record<string, TierResult>>;
  readonly all: TierResult;
  readonly records: readonly ReportRecord[];
}

/** The part of `switchyard forecast --json` a report reads. */
export interface ReportForecast {
  readonly scales: readonly {
    readonly scale: number;
    readonly summary: {
      readonly requests: number;
      readonly tiers: Readonly<Record<string, { readonly attainment: number; readonly ttftP95Ms: number }>>;
      readonly pools: readonly {
        readonly pool: string;
        readonly workers: number;
        readonly busy: number;
        readonly utilisation: number;
        readonly costMicros: number;
        readonly idleMicros: number;
      }[];
      readonly billMicros: number;
      readonly gpuCostMicros: number;
      readonly billPer1kMicros: number;
    };
    readonly capacity?: { readonly met: boolean; readonly extra: Readonly<Record<string, number>>; readonly extraCostMicros: number };
  }[];
}

/** Points of an empirical CDF: `[ms, share of requests at or below it]`. */
export type CdfPoints = [number, number][];

export interface ForecastRow {
  readonly scale: number;
  readonly requests: number;
  readonly attainment: Readonly<Record<string, number>>;
  readonly billUsd: number;
  readonly gpuCostUsd: number;
  readonly billPer1kUsd: number;
  /** Extra GPUs per pool that meet the target; absent when the fleet as it is already does. */
  readonly extraGpus?: Readonly<Record<string, number>>;
  readonly capacityMet?: boolean;
}

export interface ReportData {
  readonly title: string;
  readonly model: string;
  readonly windowS: number;
  readonly tiers: readonly { readonly tier: string; readonly figures: TierResult }[];
  readonly all: TierResult;
  readonly outcomes: Readonly<Record<LoadOutcome, number>>;
  readonly ttftCdf: Readonly<Record<string, CdfPoints>>;
  readonly e2eCdf: Readonly<Record<string, CdfPoints>>;
  /** Per whole second of the replay: `[second, completions ending in it]`. */
  readonly throughput: [number, number][];
  /** Per whole second: `[second, most requests sent and not yet ended during it]`. */
  readonly inFlight: [number, number][];
  /** USD by key, largest first. `feature` and `pool` only when the records carry them. */
  readonly costByTenant: [string, number][];
  readonly costByModel: [string, number][];
  readonly costByFeature?: [string, number][];
  /** Busy and slot utilisation per pool at each forecast scale; absent without a forecast. */
  readonly utilisation?: { readonly scale: number; readonly pools: { readonly pool: string; readonly busy: number; readonly utilisation: number }[] }[];
  /** Why a chart has nothing to draw, by chart, so the page says so instead of drawing an empty frame. */
  readonly notes: Readonly<Record<string, string>>;
  readonly forecast?: readonly ForecastRow[];
}

/** Most points one CDF keeps: enough for a smooth line, few enough to keep the page small with 100,000 requests. */
const CDF_POINTS = 200;

/** Empirical CDF of `values`, thinned evenly to at most `CDF_POINTS` points, the largest always kept. */
export function cdf(values: readonly number[]): CdfPoints {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return [];
  const step = Math.max(1, Math.ceil(n / CDF_POINTS));
  const out: CdfPoints = [];
  for (let i = step - 1; i < n; i += step) out.push([sorted[i]!, (i + 1) / n]);
  if (out[out.length - 1]![1] !== 1) out.push([sorted[n - 1]!, 1]);
  return out;
}

const endMs = (r: RequestRecord) => (r.e2eMs === undefined ? undefined : r.sentMs + r.e2eMs);

/** Completions per second, from each completed record's end (sent + end-to-end). */
export function throughputPerSecond(records: readonly RequestRecord[], seconds: number): [number, number][] {
  const counts = new Array<number>(seconds).fill(0);
  for (const r of records) {
    const end = endMs(r);
    if (r.outcome !== 'completed' || end === undefined) continue;
    const s = Math.floor(end / 1_000);
    if (s < seconds) counts[s]! += 1;
  }
  return counts.map((c, s) => [s, c]);
}

/**
 * Requests in flight per second: the most open at any moment of that second, from each sent
 * record's sent time to its end. A sent record with no end time (it was refused or broke
 * before any figure) is counted for the instant it was sent only, which is what we know.
 */
export function inFlightPerSecond(records: readonly RequestRecord[], seconds: number): [number, number][] {
  const events: [number, number][] = [];
  for (const r of records) {
    if (r.outcome === 'dropped') continue;
    events.push([r.sentMs, 1], [endMs(r) ?? r.sentMs, -1]);
  }
  // Ends before starts at the same instant: a request that ended as another was sent does not overlap it.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const peak = new Array<number>(seconds).fill(0);
  let open = 0;
  let at = 0;
  for (const [t, d] of events) {
    // Every second from the last event to this one held `open` requests.
    for (let s = Math.floor(at / 1_000); s <= Math.min(Math.floor(t / 1_000), seconds - 1); s++) peak[s] = Math.max(peak[s]!, open);
    open += d;
    at = t;
    const s = Math.floor(t / 1_000);
    if (s < seconds) peak[s] = Math.max(peak[s]!, open);
  }
  return peak.map((p, s) => [s, p]);
}

const sumBy = (records: readonly ReportRecord[], key: (r: ReportRecord) => string): [string, number][] => {
  const out = new Map<string, number>();
  for (const r of records) if (r.costMicros !== undefined) out.set(key(r), (out.get(key(r)) ?? 0) + r.costMicros);
  return [...out.entries()].map(([k, micros]): [string, number] => [k, micros / 1e6]).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
};

/** Everything the report draws, from a load run and, when given, a forecast. */
export function reportData(run: ReportRun, forecast?: ReportForecast): ReportData {
  const records = run.records;
  const lastEnd = Math.max(run.windowS * 1_000, ...records.map((r) => endMs(r) ?? r.sentMs));
  const seconds = Math.max(1, Math.ceil(lastEnd / 1_000));
  const tiers = TIERS.filter((t) => run.tiers[t]).map((tier) => ({ tier, figures: run.tiers[tier]! }));
  const completedOf = (tier: string) => records.filter((r) => r.tier === tier && r.outcome === 'completed');
  const cdfOf = (key: 'ttftMs' | 'e2eMs') =>
    Object.fromEntries(tiers.map(({ tier }) => [tier, cdf(completedOf(tier).flatMap((r) => (r[key] === undefined ? [] : [r[key]])))]));
  const outcomes = { completed: 0, rejected: 0, failed: 0, dropped: 0 } as Record<LoadOutcome, number>;
  for (const r of records) outcomes[r.outcome] += 1;

  const notes: Record<string, string> = {};
  const hasFeature = records.some((r) => r.feature !== undefined);
  if (!hasFeature) notes['cost-feature'] = 'The load run does not record a feature per request, so cost is not split by feature.';
  if (!records.some((r) => r.costMicros !== undefined))
    notes['cost-tenant'] = notes['cost-model'] = 'No request of the run was priced (the model has no price in the price book).';
  if (!forecast) notes.utilisation = 'The load run does not record which pool served a request; pass --forecast FILE for utilisation per pool at each scale.';
  if (records.length === 0) notes.throughput = notes['in-flight'] = 'The run has no per-request records.';
  for (const key of ['ttft', 'e2e'] as const) if (!tiers.some(({ tier }) => completedOf(tier).length > 0)) notes[key] = 'No request completed.';

  return {
    title: `Load run ${run.trace?.file ?? ''}`.trim(),
    model: run.options.model,
    windowS: run.windowS,
    tiers,
    all: run.all,
    outcomes,
    ttftCdf: cdfOf('ttftMs'),
    e2eCdf: cdfOf('e2eMs'),
    throughput: throughputPerSecond(records, seconds),
    inFlight: inFlightPerSecond(records, seconds),
    costByTenant: sumBy(records, (r) => r.tenant),
    // A load run asks for one model (`options.model`) unless its records say otherwise.
    costByModel: sumBy(records, (r) => r.model ?? run.options.model),
    ...(hasFeature ? { costByFeature: sumBy(records, (r) => r.feature ?? '(none)') } : {}),
    ...(forecast
      ? {
          utilisation: forecast.scales.map((s) => ({
            scale: s.scale,
            pools: s.summary.pools.map((p) => ({ pool: p.pool, busy: p.busy, utilisation: p.utilisation })),
          })),
          forecast: forecast.scales.map((s): ForecastRow => ({
            scale: s.scale,
            requests: s.summary.requests,
            attainment: Object.fromEntries(Object.entries(s.summary.tiers).map(([t, v]) => [t, v.attainment])),
            billUsd: s.summary.billMicros / 1e6,
            gpuCostUsd: s.summary.gpuCostMicros / 1e6,
            billPer1kUsd: s.summary.billPer1kMicros / 1e6,
            ...(s.capacity ? { extraGpus: s.capacity.extra, capacityMet: s.capacity.met } : {}),
          })),
        }
      : {}),
    notes,
  };
}

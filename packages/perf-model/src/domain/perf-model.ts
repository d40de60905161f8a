import { DomainError } from '@switchyard/contracts';
import type { GpuMeta, ProfileRow } from './profile-table.js';

/**
 * Step latencies of one model on one GPU type, interpolated from measured profile rows.
 * Every method returns milliseconds of GPU time for one engine iteration.
 */
export interface PerfModel {
  readonly model: string;
  /** One decode step for `batch` sequences whose mean cached context is `context` tokens. 0 for batch 0. */
  decodeMs(batch: number, context: number): number;
  /**
   * One prefill of `tokens` prompt tokens (one sequence) from an empty cache. 0 for 0 tokens.
   * Beyond the longest measured prompt it follows the parabola through the three longest
   * measurements: attention grows with the square of the prompt.
   */
  prefillMs(tokens: number): number;
  /**
   * What a prefill chunk of `tokens` costs beyond `prefillMs(tokens)` because `context` tokens
   * sit in the KV cache before it (earlier chunks of its prompt, or a cached prefix): the rise
   * of the measured prefill curve from `context` to `context + tokens`, less the cost of the
   * same tokens from an empty cache, and never below 0 (a small chunk's fixed costs hide it).
   */
  chunkContextMs(context: number, tokens: number): number;
  /**
   * One continuous-batching iteration: `decodeBatch` decodes at mean context `decodeContext` plus a
   * prefill chunk of `prefillTokens`, sharing every matmul. Equals `prefillMs` when `decodeBatch` is 0
   * and `decodeMs` when `prefillTokens` is 0.
   */
  mixedMs(decodeBatch: number, prefillTokens: number, decodeContext: number): number;
  /**
   * KV-cache tokens that fit in `gpuMemGib` (default: the profiled GPU's memory) after the weights
   * and `memoryReserveFraction` of the memory. For a tensor-parallel shard this is per GPU, which is
   * also the group's capacity since each shard holds its heads' share of every token.
   */
  kvCapacityTokens(gpuMemGib?: number): number;
  /** Modelled tensor-parallel all-reduce time of a step carrying `tokensInStep` tokens; 0 without TP. */
  allReduceMs(tokensInStep: number): number;
}

/** Tuning of {@link createPerfModel}; every field has a default. */
export interface PerfModelOptions {
  /** Effective NVLink bandwidth of one all-reduce, GB/s. Default 450 (H100/H200 NVLink 4, one direction). */
  readonly allReduceGbPerS?: number;
  /** Fixed latency of one all-reduce, microseconds. Default 10. */
  readonly allReduceLatencyUs?: number;
  /** Fraction of GPU memory kept free of weights and KV (activations, allocator slack). Default 0.1. */
  readonly memoryReserveFraction?: number;
}

const defaults: Required<PerfModelOptions> = { allReduceGbPerS: 450, allReduceLatencyUs: 10, memoryReserveFraction: 0.1 };

/** A 1-D curve through sorted nodes: monotone cubic (PCHIP) with node slopes, or linear when `slopes` is null. */
interface Curve {
  readonly xs: readonly number[];
  readonly ys: readonly number[];
  readonly slopes: readonly number[] | null;
}

function pchip(xs: readonly number[], ys: readonly number[]): Curve {
  const n = xs.length;
  const h = xs.slice(1).map((x, i) => x - xs[i]!);
  const d = h.map((hi, i) => (ys[i + 1]! - ys[i]!) / hi);
  if (n < 3) return { xs, ys, slopes: xs.map(() => d[0] ?? 0) };
  const slopes = new Array<number>(n);
  // Fritsch–Butland: a weighted harmonic mean of the neighbouring secants keeps every segment
  // monotone, so the curve never overshoots the measurements (a step never gets cheaper with more work
  // unless the data says so).
  for (let i = 1; i < n - 1; i++) {
    const [a, b, ha, hb] = [d[i - 1]!, d[i]!, h[i - 1]!, h[i]!];
    slopes[i] = a * b <= 0 ? 0 : (3 * ha + 3 * hb) / ((2 * hb + ha) / a + (hb + 2 * ha) / b);
  }
  const end = (h0: number, h1: number, d0: number, d1: number): number => {
    const m = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
    if (Math.sign(m) !== Math.sign(d0)) return 0;
    return Math.sign(d0) !== Math.sign(d1) && Math.abs(m) > Math.abs(3 * d0) ? 3 * d0 : m;
  };
  slopes[0] = end(h[0]!, h[1]!, d[0]!, d[1]!);
  slopes[n - 1] = end(h[n - 2]!, h[n - 3]!, d[n - 2]!, d[n - 3]!);
  return { xs, ys, slopes };
}

/**
 * Below the first node the value stays flat: fixed costs (weight reads, launches) dominate small
 * steps, so less work saves almost nothing. Above the last node it grows linearly along the last
 * measured segment (slope floored at 0), because beyond the grid steps are bandwidth or compute bound
 * and scale with the work; this also keeps every result non-negative.
 */
function at(c: Curve, x: number): number {
  const { xs, ys, slopes } = c;
  const n = xs.length;
  if (n === 1 || x <= xs[0]!) return ys[0]!;
  if (x >= xs[n - 1]!) {
    const slope = Math.max(0, (ys[n - 1]! - ys[n - 2]!) / (xs[n - 1]! - xs[n - 2]!));
    return ys[n - 1]! + slope * (x - xs[n - 1]!);
  }
  let i = 0;
  while (xs[i + 1]! < x) i++;
  const hi = xs[i + 1]! - xs[i]!;
  const t = (x - xs[i]!) / hi;
  if (slopes === null) return ys[i]! + t * (ys[i + 1]! - ys[i]!);
  const [t2, t3] = [t * t, t * t * t];
  return (2 * t3 - 3 * t2 + 1) * ys[i]! + (t3 - 2 * t2 + t) * hi * slopes[i]! + (-2 * t3 + 3 * t2) * ys[i + 1]! + (t3 - t2) * hi * slopes[i + 1]!;
}

/**
 * The prefill curve, continued past its longest measurement by the parabola through its three
 * longest (for an 8B model on H100: 2, 4 and 8 K tokens), since attention's cost grows with the
 * square of the prompt; the grid's own linear continuation would price a 32 K prompt about a
 * fifth too low. Where the three points are not convex the linear continuation stays.
 */
function prefillBeyondGrid(nodes: readonly { x: number; ms: number }[], inGrid: (tokens: number) => number): (tokens: number) => number {
  const last = [...nodes].sort((a, b) => a.x - b.x).slice(-3);
  if (last.length < 3) return inGrid;
  const [p0, p1, p2] = last as [GridPoint, GridPoint, GridPoint];
  const d01 = (p1.ms - p0.ms) / (p1.x - p0.x);
  const d12 = (p2.ms - p1.ms) / (p2.x - p1.x);
  const curvature = (d12 - d01) / (p2.x - p0.x);
  if (!(curvature > 0)) return inGrid;
  // Newton form through the three points, evaluated beyond the last.
  return (tokens) => (tokens <= p2.x ? inGrid(tokens) : p1.ms + d12 * (tokens - p1.x) + curvature * (tokens - p1.x) * (tokens - p2.x));
}

interface GridPoint {
  readonly row: number;
  readonly x: number;
  readonly ms: number;
}

/**
 * A ragged tensor-product grid: one PCHIP curve per row along x, then a linear curve across rows at
 * the asked x. Rows may cover different x ranges (decode rows stop where batch x context exceeds
 * the measured memory budget); a row is then extrapolated along its own last segment rather than
 * dropped, since dropping it would pull the answer towards a far-away row.
 */
function grid(points: readonly GridPoint[], what: string): (row: number, x: number) => number {
  const keys = [...new Set(points.map((p) => p.row))].sort((a, b) => a - b);
  const rows = keys.map((k) => {
    const ps = points.filter((p) => p.row === k).sort((a, b) => a.x - b.x);
    ps.forEach((p, i) => {
      if (i > 0 && p.x === ps[i - 1]!.x) throw invalid(`${what}: two rows for ${k}/${p.x}`);
    });
    return pchip(
      ps.map((p) => p.x),
      ps.map((p) => p.ms),
    );
  });
  if (rows.length === 0) throw invalid(`${what}: no rows`);
  return (row, x) => at({ xs: keys, ys: rows.map((r) => at(r, x)), slopes: null }, row);
}

function invalid(message: string): DomainError {
  return new DomainError('INVALID_ARGUMENT', `perf model: ${message}`, { retryable: false });
}

function count(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw invalid(`${name} must be a finite number >= 0, got ${v}`);
  return v;
}

/**
 * Builds the performance model of `model` from a GPU's profile rows and meta.
 *
 * Interpolation was chosen by leave-one-out error over both measured GPUs (see perf-model.test.ts):
 * - along the densely measured axis (prefill tokens, decode batch, mixed chunk): PCHIP, a monotone
 *   cubic, in linear coordinates. Against piecewise-linear it cuts the worst prefill error from
 *   9.6 % to 4.1 % (prefill is convex in tokens: attention is quadratic) and the worst decode error
 *   from 5.8 % to 4.2 %. Interpolating in log2(batch) / log2(tokens) is worse everywhere (worst
 *   8-34 %) because step time is affine in batch and tokens, not in their logarithms.
 * - across rows (decode context, mixed decode batch): linear, which is exact for the affine cost of
 *   reading batch x context cached tokens; PCHIP there reached 9.9 % on mixed batch rows (its slopes
 *   feel the jump from the batch-0 prefill row to batch 1) against 7.0 % for linear; on decode
 *   context the two are close (worst 4.4 % PCHIP, 5.5 % linear, medians lower for linear).
 *
 * Decode rows are curves over batch, one per measured context, joined across context.
 * Mixed rows are curves over prefill chunk, one per decode batch, measured at one decode context
 * (1,024); the grid is closed with a chunk-0 column from the decode table and a batch-0 row from the
 * prefill table, and a different decode context adds `decodeMs(b, ctx) - decodeMs(b, 1024)`.
 *
 * For tensor-parallel shards (model id ending `-tpN`, N > 1) the profile holds one shard's step
 * without communication, so every step adds 2 all-reduces per layer (`L` from meta) of
 * `tokensInStep x hidden x 2` bytes at `allReduceGbPerS` plus `allReduceLatencyUs` each. This is the
 * profile README's model, not a measurement: it charges the payload once at an effective bus
 * bandwidth instead of simulating ring hops. At the defaults it adds 1.6 ms of latency to every
 * 70B-TP4 step plus 5.8 us per token in the step.
 *
 * @throws DomainError `INVALID_ARGUMENT` when meta lacks the model or a phase has no rows.
 */
export function createPerfModel(rows: readonly ProfileRow[], meta: GpuMeta, model: string, options: PerfModelOptions = {}): PerfModel {
  const opts = { ...defaults, ...options };
  const shape = meta.models[model];
  if (shape === undefined) throw invalid(`meta of ${meta.gpu} has no model "${model}"`);
  const mine = rows.filter((r) => r.model === model);
  const phase = (p: ProfileRow['phase']): ProfileRow[] => {
    const found = mine.filter((r) => r.phase === p);
    if (found.length === 0) throw invalid(`no ${p} rows for ${model} on ${meta.gpu}`);
    return found;
  };
  const [prefillRows, decodeRows, mixedRows] = [phase('prefill'), phase('decode'), phase('mixed')];
  const prefillNodes = prefillRows.map((r) => ({ row: 0, x: r.context, ms: r.ms }));
  const prefillShard = grid(prefillNodes, 'prefill');
  const decodeShard = grid(
    decodeRows.map((r) => ({ row: r.context, x: r.batch, ms: r.ms })),
    'decode',
  );
  const refContexts = new Set(mixedRows.map((r) => r.context));
  if (refContexts.size !== 1) throw invalid(`mixed rows of ${model} must share one decode context`);
  const refContext = [...refContexts][0]!;
  const mixedBatches = [...new Set(mixedRows.map((r) => r.batch))];
  const mixedShard = grid(
    [
      ...mixedRows.map((r) => ({ row: r.batch, x: r.newTokens - r.batch, ms: r.ms })),
      ...mixedBatches.map((b) => ({ row: b, x: 0, ms: decodeShard(refContext, b) })),
      ...prefillNodes,
    ],
    'mixed',
  );

  const tp = /-tp(\d+)$/.exec(model);
  const tensorParallel = tp !== null && Number(tp[1]) > 1;
  const allReduceMs = (tokens: number): number => {
    if (!tensorParallel || tokens === 0) return 0;
    const payloadMs = ((tokens * shape.hidden * 2) / (opts.allReduceGbPerS * 1e9)) * 1e3;
    return 2 * shape.layers * (opts.allReduceLatencyUs / 1e3 + payloadMs);
  };
  const decodeMs = (batch: number, context: number): number =>
    count('batch', batch) === 0 ? 0 : decodeShard(count('context', context), batch) + allReduceMs(batch);
  const prefillCurve = prefillBeyondGrid(prefillNodes, (tokens) => prefillShard(0, tokens));
  const prefillMs = (tokens: number): number => (count('tokens', tokens) === 0 ? 0 : prefillCurve(tokens) + allReduceMs(tokens));
  const chunkContextMs = (context: number, tokens: number): number => {
    if (count('context', context) === 0 || count('tokens', tokens) === 0) return 0;
    return Math.max(0, prefillCurve(context + tokens) - prefillCurve(context) - prefillCurve(tokens));
  };

  return {
    model,
    decodeMs,
    prefillMs,
    chunkContextMs,
    mixedMs(decodeBatch, prefillTokens, decodeContext) {
      if (count('decodeBatch', decodeBatch) === 0) return prefillMs(prefillTokens);
      if (count('prefillTokens', prefillTokens) === 0) return decodeMs(decodeBatch, decodeContext);
      const context = count('decodeContext', decodeContext);
      const contextShift = decodeShard(context, decodeBatch) - decodeShard(refContext, decodeBatch);
      // A mixed step does all of the work of either part alone, so it never costs less than one.
      const shard = Math.max(mixedShard(decodeBatch, prefillTokens) + contextShift, decodeShard(context, decodeBatch), prefillShard(0, prefillTokens));
      return shard + allReduceMs(decodeBatch + prefillTokens);
    },
    kvCapacityTokens(gpuMemGib = meta.memGib) {
      const free = count('gpuMemGib', gpuMemGib) * 2 ** 30 * (1 - opts.memoryReserveFraction) - shape.weightBytes;
      return Math.max(0, Math.floor(free / shape.kvBytesPerToken));
    },
    allReduceMs: (tokens) => allReduceMs(count('tokensInStep', tokens)),
  };
}

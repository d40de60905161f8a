/** vLLM's time-to-first-token buckets, seconds. */
export const TTFT_BUCKETS_S = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560] as const;
/** vLLM's end-to-end latency buckets, seconds. */
export const E2E_BUCKETS_S = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680] as const;

/** Why a request left the engine, as vLLM labels `vllm:request_success_total`. */
export type FinishedReason = 'stop' | 'length' | 'abort';

export interface HistogramState {
  readonly buckets: readonly number[];
  /** Observations at or below each bucket's bound (not cumulative; the formatter sums). */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** Everything `/metrics` shows besides the engine's load, kept by the server as requests pass. */
export interface VllmStats {
  promptTokens: number;
  generationTokens: number;
  preemptions: number;
  readonly finished: Record<FinishedReason, number>;
  readonly ttft: HistogramState;
  readonly e2e: HistogramState;
}

export const createVllmStats = (): VllmStats => ({
  promptTokens: 0,
  generationTokens: 0,
  preemptions: 0,
  finished: { stop: 0, length: 0, abort: 0 },
  ttft: { buckets: TTFT_BUCKETS_S, counts: TTFT_BUCKETS_S.map(() => 0), sum: 0, count: 0 },
  e2e: { buckets: E2E_BUCKETS_S, counts: E2E_BUCKETS_S.map(() => 0), sum: 0, count: 0 },
});

export function observe(h: HistogramState, value: number): void {
  const i = h.buckets.findIndex((b) => value <= b);
  if (i >= 0) h.counts[i]!++;
  h.sum += value;
  h.count++;
}

/** The engine's load at the moment of the scrape. */
export interface VllmGauges {
  readonly running: number;
  readonly waiting: number;
  /** Fraction of KV-cache blocks in use, 0..1. */
  readonly kvUsed: number;
}

const escapeLabel = (v: string) => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
const num = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN');

/**
 * Prometheus text exposition (0.0.4) of the metrics vLLM's OpenAI server publishes under the
 * same names and `model_name` label, so dashboards and scrapers written for vLLM read the
 * simulator unchanged. Both KV gauges are given: `kv_cache_usage_perc` (vLLM V1) and
 * `gpu_cache_usage_perc` (V0), each 0..1 as vLLM reports them despite the name.
 */
export function formatVllmMetrics(modelName: string, gauges: VllmGauges, stats: VllmStats): string {
  const label = `model_name="${escapeLabel(modelName)}"`;
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: ReadonlyArray<readonly [string, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [series, value] of samples) lines.push(`${series} ${num(value)}`);
  };
  const one = (name: string, value: number) => [[`${name}{${label}}`, value]] as const;
  const histogram = (name: string, help: string, h: HistogramState) => {
    let cumulative = 0;
    const samples: Array<readonly [string, number]> = h.buckets.map((b, i) => {
      cumulative += h.counts[i]!;
      return [`${name}_bucket{${label},le="${num(b)}"}`, cumulative] as const;
    });
    samples.push([`${name}_bucket{${label},le="+Inf"}`, h.count], [`${name}_sum{${label}}`, h.sum], [`${name}_count{${label}}`, h.count]);
    metric(name, 'histogram', help, samples);
  };
  metric('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', one('vllm:num_requests_running', gauges.running));
  metric('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', one('vllm:num_requests_waiting', gauges.waiting));
  metric('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.', one('vllm:kv_cache_usage_perc', gauges.kvUsed));
  metric('vllm:gpu_cache_usage_perc', 'gauge', 'GPU KV-cache usage. 1 means 100 percent usage.', one('vllm:gpu_cache_usage_perc', gauges.kvUsed));
  metric('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.', one('vllm:prompt_tokens_total', stats.promptTokens));
  metric('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.', one('vllm:generation_tokens_total', stats.generationTokens));
  metric('vllm:num_preemptions_total', 'counter', 'Cumulative number of preemptions from the engine.', one('vllm:num_preemptions_total', stats.preemptions));
  metric(
    'vllm:request_success_total',
    'counter',
    'Count of successfully processed requests.',
    (Object.keys(stats.finished) as FinishedReason[]).map((r) => [`vllm:request_success_total{${label},finished_reason="${r}"}`, stats.finished[r]] as const),
  );
  histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', stats.ttft);
  histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', stats.e2e);
  return `${lines.join('\n')}\n`;
}

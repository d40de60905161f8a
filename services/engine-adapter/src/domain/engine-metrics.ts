/**
 * What a self-hosted engine says about its own load on its Prometheus endpoint, in the terms of
 * a heartbeat. Read from vLLM (`vllm:num_requests_running`, `vllm:num_requests_waiting`,
 * `vllm:kv_cache_usage_perc`, or `vllm:gpu_cache_usage_perc` before v0.10, and the
 * `vllm:time_to_first_token_seconds` histogram) and SGLang (`sglang:num_running_reqs`,
 * `sglang:num_queue_reqs`, `sglang:token_usage`, `sglang:time_to_first_token_seconds`).
 * Series with several label sets (one per model or engine) are summed; the cache use is the highest.
 */
export interface EngineMetrics {
  readonly running: number;
  readonly waiting: number;
  /** Share of the KV cache in use, 0..1. */
  readonly kvUsed: number;
  /** The TTFT histogram's running sum (seconds) and count, to difference between scrapes. */
  readonly ttftSumS: number;
  readonly ttftCount: number;
}

const NAMES = {
  running: ['vllm:num_requests_running', 'sglang:num_running_reqs'],
  waiting: ['vllm:num_requests_waiting', 'sglang:num_queue_reqs'],
  kvUsed: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc', 'sglang:token_usage'],
  ttftSum: ['vllm:time_to_first_token_seconds_sum', 'sglang:time_to_first_token_seconds_sum'],
  ttftCount: ['vllm:time_to_first_token_seconds_count', 'sglang:time_to_first_token_seconds_count'],
} as const;

/** Samples of the Prometheus text format: `name{labels} value [timestamp]`; comments skipped. */
export function parseExposition(text: string): Map<string, number[]> {
  const samples = new Map<string, number[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = brace >= 0 ? line.indexOf(' ', line.lastIndexOf('}')) : line.indexOf(' ');
    if (space < 0) continue;
    const name = line.slice(0, brace >= 0 && brace < space ? brace : space);
    const value = Number(
      line
        .slice(space + 1)
        .trim()
        .split(/\s+/)[0],
    );
    if (!Number.isFinite(value)) continue;
    samples.set(name, [...(samples.get(name) ?? []), value]);
  }
  return samples;
}

/**
 * The engine's load from its exposition, or undefined when it carries none of the names above
 * (not a vLLM or SGLang endpoint: the adapter then falls back to its own counts).
 */
export function engineMetrics(text: string): EngineMetrics | undefined {
  const samples = parseExposition(text);
  const first = (names: readonly string[]) => names.map((n) => samples.get(n)).find((v) => v !== undefined);
  const sum = (names: readonly string[]) => (first(names) ?? []).reduce((a, b) => a + b, 0);
  if (first(NAMES.running) === undefined && first(NAMES.waiting) === undefined) return undefined;
  const kv = first(NAMES.kvUsed) ?? [];
  return {
    running: sum(NAMES.running),
    waiting: sum(NAMES.waiting),
    kvUsed: Math.min(1, Math.max(0, ...kv, 0)),
    ttftSumS: sum(NAMES.ttftSum),
    ttftCount: sum(NAMES.ttftCount),
  };
}

/** Mean TTFT (ms) of the requests that got their first token between two scrapes; undefined when none did. */
export function ttftBetween(before: EngineMetrics | undefined, after: EngineMetrics): number | undefined {
  if (!before || after.ttftCount < before.ttftCount) return undefined;
  const n = after.ttftCount - before.ttftCount;
  return n > 0 ? ((after.ttftSumS - before.ttftSumS) / n) * 1000 : undefined;
}

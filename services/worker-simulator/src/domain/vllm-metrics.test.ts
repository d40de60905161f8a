import { describe, expect, it } from 'vitest';
import { createVllmStats, formatVllmMetrics, observe } from './vllm-metrics.js';

/** The value of one sample line, by its series as written. */
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('formatVllmMetrics', () => {
  it("writes vLLM's gauges and counters under its names, labelled with the model", () => {
    const stats = createVllmStats();
    stats.promptTokens = 120;
    stats.generationTokens = 40;
    stats.finished.stop = 2;
    stats.finished.length = 1;
    const text = formatVllmMetrics('llama-3.1-8b', { running: 3, waiting: 2, kvUsed: 0.25 }, stats);
    const m = 'model_name="llama-3.1-8b"';
    expect(sample(text, `vllm:num_requests_running{${m}}`)).toBe(3);
    expect(sample(text, `vllm:num_requests_waiting{${m}}`)).toBe(2);
    expect(sample(text, `vllm:kv_cache_usage_perc{${m}}`)).toBe(0.25);
    expect(sample(text, `vllm:gpu_cache_usage_perc{${m}}`)).toBe(0.25);
    expect(sample(text, `vllm:prompt_tokens_total{${m}}`)).toBe(120);
    expect(sample(text, `vllm:generation_tokens_total{${m}}`)).toBe(40);
    expect(sample(text, `vllm:request_success_total{${m},finished_reason="stop"}`)).toBe(2);
    expect(sample(text, `vllm:request_success_total{${m},finished_reason="length"}`)).toBe(1);
    expect(text).toContain('# TYPE vllm:num_requests_running gauge');
    expect(text).toContain('# TYPE vllm:prompt_tokens_total counter');
    expect(text.endsWith('\n')).toBe(true);
  });

  it('writes histograms with cumulative buckets, +Inf, sum and count', () => {
    const stats = createVllmStats();
    for (const s of [0.003, 0.05, 0.05, 3000]) observe(stats.ttft, s);
    const text = formatVllmMetrics('m', { running: 0, waiting: 0, kvUsed: 0 }, stats);
    const h = 'vllm:time_to_first_token_seconds';
    expect(text).toContain(`# TYPE ${h} histogram`);
    expect(sample(text, `${h}_bucket{model_name="m",le="0.001"}`)).toBe(0);
    expect(sample(text, `${h}_bucket{model_name="m",le="0.005"}`)).toBe(1);
    expect(sample(text, `${h}_bucket{model_name="m",le="0.06"}`)).toBe(3);
    expect(sample(text, `${h}_bucket{model_name="m",le="2560"}`)).toBe(3);
    expect(sample(text, `${h}_bucket{model_name="m",le="+Inf"}`)).toBe(4);
    expect(sample(text, `${h}_count{model_name="m"}`)).toBe(4);
    expect(sample(text, `${h}_sum{model_name="m"}`)).toBeCloseTo(3000.103);
    expect(sample(text, 'vllm:e2e_request_latency_seconds_count{model_name="m"}')).toBe(0);
  });

  it('escapes a model name that would break the label', () => {
    const text = formatVllmMetrics('a"b\\c', { running: 1, waiting: 0, kvUsed: 0 }, createVllmStats());
    expect(sample(text, 'vllm:num_requests_running{model_name="a\\"b\\\\c"}')).toBe(1);
  });
});

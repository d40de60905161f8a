import { describe, expect, it } from 'vitest';
import { engineMetrics, parseExposition, ttftBetween } from './engine-metrics.js';

const VLLM = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.0
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.61
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 10.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 2.5
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 20.0
`;

describe("an engine's own metrics", () => {
  it('reads vLLM gauges and the TTFT histogram, summing label sets', () => {
    expect(engineMetrics(VLLM)).toEqual({ running: 7, waiting: 3, kvUsed: 0.61, ttftSumS: 2.5, ttftCount: 20 });
    const twoEngines = `${VLLM}vllm:num_requests_running{engine="1",model_name="m"} 2\nvllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.9\n`;
    expect(engineMetrics(twoEngines)).toMatchObject({ running: 9, kvUsed: 0.9 });
  });
  it('reads older vLLM and SGLang names, and nothing from an endpoint that is neither', () => {
    expect(engineMetrics('vllm:num_requests_running 1\nvllm:gpu_cache_usage_perc 0.25\n')).toMatchObject({ running: 1, waiting: 0, kvUsed: 0.25 });
    expect(engineMetrics('sglang:num_running_reqs{model_name="m"} 4\nsglang:num_queue_reqs{model_name="m"} 6\nsglang:token_usage 0.5\n')).toMatchObject({
      running: 4,
      waiting: 6,
      kvUsed: 0.5,
    });
    expect(engineMetrics('process_cpu_seconds_total 12\n')).toBeUndefined();
    expect(parseExposition('a{x="b c"} 1 1700000000\nbad line\nb NaN\n').get('a')).toEqual([1]);
  });
  it('turns two scrapes into the mean TTFT between them', () => {
    const a = engineMetrics(VLLM)!;
    expect(ttftBetween(a, { ...a, ttftSumS: 3.5, ttftCount: 25 })).toBeCloseTo(200);
    expect(ttftBetween(a, a)).toBeUndefined();
    expect(ttftBetween(undefined, a)).toBeUndefined();
    // The engine restarted: its counters went back.
    expect(ttftBetween(a, { ...a, ttftCount: 1 })).toBeUndefined();
  });
});

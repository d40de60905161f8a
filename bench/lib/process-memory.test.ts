import { describe, expect, it } from 'vitest';
import { liveHeapMbOf, metricsPortOf } from './process-memory.js';

describe('process memory readings', () => {
  it("reads the live heap from a service's metrics", () => {
    const text = [
      '# HELP nodejs_heap_live_bytes V8 heap in use right after the latest full collection',
      '# TYPE nodejs_heap_live_bytes gauge',
      'nodejs_heap_live_bytes{service="batcher"} 20971520',
      'nodejs_heap_size_used_bytes{service="batcher"} 31457280',
    ].join('\n');
    expect(liveHeapMbOf(text)).toBe(20);
  });
  it('has no reading before the first full collection, or without the metric', () => {
    expect(liveHeapMbOf('nodejs_heap_live_bytes{service="batcher"} 0')).toBeUndefined();
    expect(liveHeapMbOf('nodejs_heap_size_used_bytes 31457280')).toBeUndefined();
  });
  it("finds the metrics port in a service's start line, and nowhere else", () => {
    expect(metricsPortOf('{"level":30,"time":1,"service":"batcher","metricsPort":41234,"pid":77,"msg":"batcher started"}')).toEqual({ pid: 77, port: 41234 });
    expect(metricsPortOf('{"level":30,"pid":77,"msg":"NATS connection back"}')).toBeUndefined();
  });
});

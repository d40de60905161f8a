export { createLogger, REDACT_PATHS } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
export { createMetricsRegistry, serveMetrics } from './metrics.js';
export { collectLiveHeap, LIVE_HEAP_METRIC } from './live-heap.js';
export type { HealthCheck, MetricsServer } from './metrics.js';
export { Counter, Gauge, Histogram, Registry } from 'prom-client';
export { formatTraceparent, parseTraceparent, traceIdOf } from './traceparent.js';
export type { TraceParent } from './traceparent.js';
export { endSpan, newTraceparent, SpanKind, startSpan, startTracing, traceparentOf, tracingWanted } from './tracing.js';
export type { Span, StartSpanOptions, Tracing, TracingEnv, TracingOptions } from './tracing.js';
// The SDK (and its in-memory exporter, for tests) loads on demand: see startTracing.
export type { ReadableSpan } from '@opentelemetry/sdk-trace';

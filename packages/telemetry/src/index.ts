export { createLogger, REDACT_PATHS } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
export { createMetricsRegistry, serveMetrics } from './metrics.js';
export type { HealthCheck, MetricsServer } from './metrics.js';
export { Counter, Gauge, Histogram, Registry } from 'prom-client';

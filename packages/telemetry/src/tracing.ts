import { randomFillSync } from 'node:crypto';
import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { formatTraceparent, parseTraceparent } from './traceparent.js';

export { SpanKind };
export type { Span };

/** The standard OpenTelemetry variables tracing reads; a composition root passes its environment. */
export interface TracingEnv {
  readonly OTEL_SDK_DISABLED?: string;
  /** `otlp` turns export on, `none` off; unset: on when an OTLP endpoint is set. */
  readonly OTEL_TRACES_EXPORTER?: string;
  /** Base URL of an OTLP/HTTP collector; traces go to `<it>/v1/traces`. */
  readonly OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  /** Full URL for traces, over the base one. */
  readonly OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  /** Over the service's own name. */
  readonly OTEL_SERVICE_NAME?: string;
}

export interface TracingOptions {
  /** The `service.name` of this process's spans (unless OTEL_SERVICE_NAME says otherwise). */
  readonly service: string;
  readonly env?: TracingEnv;
  /**
   * Where spans go instead of OTLP, each as it ends (tests: `InMemorySpanExporter`). Turns
   * tracing on whatever `env` says. Default none.
   */
  readonly exporter?: SpanExporter;
}

export interface Tracing {
  /** False when nothing is registered: spans are then the API's no-ops. */
  readonly enabled: boolean;
  /** Sends the spans that ended and are still held. */
  flush(): Promise<void>;
  /** Flushes, then unregisters: spans are no-ops again. */
  shutdown(): Promise<void>;
}

/** Whether the environment asks for OTLP export: off by default. */
export function tracingWanted(env: TracingEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporters) return exporters.split(',').some((e) => e.trim() === 'otlp');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

function tracesUrl(env: TracingEnv): string | undefined {
  const own = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (own) return own;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // Unset: the exporter's own default (localhost:4318).
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

/** Set while a provider is registered; undefined means every span is the shared no-op. */
let tracer: Tracer | undefined;
const NOT_RECORDING: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Registers OpenTelemetry's trace SDK for this process when the environment asks for OTLP
 * export (`OTEL_EXPORTER_OTLP_ENDPOINT`, or `OTEL_TRACES_EXPORTER=otlp`), or when a test hands
 * an exporter. Off by default: `startSpan` then returns one shared no-op span and allocates
 * nothing. Spans are exported over OTLP/HTTP through a BatchSpanProcessor. The SDK and the
 * exporter are loaded only then: at every service's start they would cost ~0.3 s of loading
 * for nothing, and a restarted service is back that much sooner.
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  const env = options.env ?? {};
  if (!options.exporter && !tracingWanted(env)) return { enabled: false, flush: async () => {}, shutdown: async () => {} };
  const [{ BatchSpanProcessor, SimpleSpanProcessor, TracerProvider }, { resourceFromAttributes }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const processor = options.exporter
    ? new SimpleSpanProcessor({ exporter: options.exporter })
    : new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: tracesUrl(env) }) });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || options.service }),
    spanProcessors: [processor],
  });
  trace.setGlobalTracerProvider(provider);
  tracer = trace.getTracer('switchyard');
  return {
    enabled: true,
    flush: () => provider.forceFlush(),
    async shutdown() {
      tracer = undefined;
      await provider.shutdown();
      trace.disable();
    },
  };
}

export interface StartSpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  /** Unix ms; default now. */
  readonly startTime?: number;
}

/**
 * Starts span `name` as a child of `parent` (a `traceparent`, from a caller or an event
 * envelope); none or an invalid one starts a new trace. Spans are passed explicitly, never
 * through an async context, so nothing is paid per await. Tracing off: the shared no-op span.
 */
export function startSpan(name: string, parent: string | undefined, options?: StartSpanOptions): Span {
  if (!tracer) return NOT_RECORDING;
  const p = parent ? parseTraceparent(parent) : undefined;
  const context = p ? trace.setSpanContext(ROOT_CONTEXT, { traceId: p.traceId, spanId: p.spanId, traceFlags: p.flags, isRemote: true }) : ROOT_CONTEXT;
  return tracer.startSpan(name, options, context);
}

/** The `traceparent` that makes work under `span` its children; undefined when it records nothing (hand on the parent's instead). */
export function traceparentOf(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const c = span.spanContext();
  return formatTraceparent(c.traceId, c.spanId, c.traceFlags);
}

/** Ends `span`, marked failed with `error` when one is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined && span.isRecording()) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

const idBytes = Buffer.alloc(24);

/**
 * A `traceparent` for a new trace nobody records (tracing off here and no caller's): events
 * still carry one, so logs and streams of one request share an id. Not sampled.
 */
export function newTraceparent(): string {
  const hex = randomFillSync(idBytes).toString('hex');
  return formatTraceparent(hex.slice(0, 32), hex.slice(32), 0);
}

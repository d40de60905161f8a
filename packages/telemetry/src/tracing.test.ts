import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { parseTraceparent } from './traceparent.js';
import { endSpan, newTraceparent, startSpan, startTracing, traceparentOf, tracingWanted } from './tracing.js';

const CALLER = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('tracingWanted', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'console, otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, false],
  ])('%o -> %s', (env, wanted) => {
    expect(tracingWanted(env)).toBe(wanted);
  });
});

describe('startTracing', () => {
  it('registers nothing by default: spans are one shared no-op and hand on no traceparent of their own', async () => {
    const tracing = await startTracing({ service: 't', env: {} });
    expect(tracing.enabled).toBe(false);
    const a = startSpan('a', CALLER);
    expect(a.isRecording()).toBe(false);
    expect(startSpan('b', undefined)).toBe(a);
    expect(traceparentOf(a)).toBeUndefined();
    endSpan(a, new Error('nothing recorded'));
  });

  it('records spans as children of the traceparent they continue, and hands on their own', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await startTracing({ service: 't', exporter });
    try {
      expect(tracing.enabled).toBe(true);
      const parent = startSpan('admission.generate', CALLER);
      const handedOn = traceparentOf(parent)!;
      const child = startSpan('scheduler.place', handedOn);
      endSpan(child, new Error('no pool'));
      endSpan(parent);
      const [c, p] = exporter.getFinishedSpans();
      expect(parseTraceparent(handedOn)).toEqual({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: p!.spanContext().spanId, flags: 1 });
      expect(p!.parentSpanContext).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', isRemote: true });
      expect(c!.parentSpanContext?.spanId).toBe(p!.spanContext().spanId);
      expect(c!.status).toMatchObject({ code: 2, message: 'no pool' });
      expect(p!.resource.attributes['service.name']).toBe('t');
      // An invalid parent starts a new trace rather than failing.
      const fresh = startSpan('x', 'not-a-traceparent');
      expect(fresh.isRecording()).toBe(true);
      expect(fresh.spanContext().traceId).not.toBe('0af7651916cd43dd8448eb211c80319c');
      endSpan(fresh);
    } finally {
      await tracing.shutdown();
    }
    expect(startSpan('after', CALLER).isRecording()).toBe(false);
  });
});

describe('newTraceparent', () => {
  it('is a valid, unsampled traceparent of a new trace each time', () => {
    const a = parseTraceparent(newTraceparent());
    const b = parseTraceparent(newTraceparent());
    expect(a?.flags).toBe(0);
    expect(a?.traceId).not.toBe(b?.traceId);
  });
});

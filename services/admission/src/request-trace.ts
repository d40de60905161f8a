import { newTraceparent, parseTraceparent, SpanKind, startSpan, traceparentOf, type Span } from '@switchyard/telemetry';

/** The trace one call to admission belongs to: its span, and the `traceparent` its events and answer carry. */
export interface RequestTrace {
  readonly span: Span;
  /** The `admission.generate` span's when it records, else the caller's, else a new trace's. */
  readonly traceparent: string;
}

/**
 * Starts the call's trace: a child of the caller's `traceparent` when it sent a valid one (an
 * invalid one is ignored, never refused), else a new trace. Tracing off, this costs one
 * string: the caller's, passed through, or a new one.
 */
export function startRequestTrace(callerTraceparent: string | undefined): RequestTrace {
  const caller = callerTraceparent && parseTraceparent(callerTraceparent) ? callerTraceparent : undefined;
  const span = startSpan('admission.generate', caller, { kind: SpanKind.SERVER });
  return { span, traceparent: traceparentOf(span) ?? caller ?? newTraceparent() };
}

import { parseTraceparent } from '@switchyard/telemetry';
import { describe, expect, it } from 'vitest';
import { startRequestTrace } from './request-trace.js';

// Tracing is off here (nothing registered): what every deployment without OTLP export runs.
describe('startRequestTrace with tracing off', () => {
  it("passes the caller's valid traceparent on unchanged", () => {
    const caller = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(startRequestTrace(caller).traceparent).toBe(caller);
  });

  it.each([
    ['none', undefined],
    ['an invalid one', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331'],
  ])('starts a new, unsampled trace for %s', (_, header) => {
    const trace = startRequestTrace(header);
    expect(trace.span.isRecording()).toBe(false);
    expect(parseTraceparent(trace.traceparent)).toMatchObject({ flags: 0 });
  });
});

import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent, traceIdOf } from './traceparent.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('parseTraceparent', () => {
  it('reads a version-00 header: trace id, parent span id and flags', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, flags: 1 });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, spanId: SPAN, flags: 0 });
  });

  it('accepts a later version with fields appended, as the spec asks', () => {
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-comes-next`)).toEqual({ traceId: TRACE, spanId: SPAN, flags: 1 });
  });

  it.each([
    ['empty', ''],
    ['not a string', 42],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['version 00 with more after the flags', `00-${TRACE}-${SPAN}-01-x`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['an all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['a short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['a long span id', `00-${TRACE}-${SPAN}0-01`],
    ['non-hex flags', `00-${TRACE}-${SPAN}-0x`],
    ['spaces around it', ` 00-${TRACE}-${SPAN}-01`],
    ['another separator', `00_${TRACE}_${SPAN}_01`],
    ['an oversized value', `cc-${TRACE}-${SPAN}-01-${'a'.repeat(600)}`],
  ])('refuses %s', (_, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe('formatTraceparent', () => {
  it('writes version 00 with two-digit flags, which parse back to the same trace', () => {
    const value = formatTraceparent(TRACE, SPAN, 1);
    expect(value).toBe(`00-${TRACE}-${SPAN}-01`);
    expect(parseTraceparent(value)).toEqual({ traceId: TRACE, spanId: SPAN, flags: 1 });
    expect(traceIdOf(value)).toBe(TRACE);
  });
});

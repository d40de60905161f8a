import { describe, expect, it } from 'vitest';
import { gpuMicros } from './gpu-micros.js';

describe('gpuMicros', () => {
  it('keeps whole microseconds and rounds the rest half up', () => {
    expect(gpuMicros(0)).toBe(0);
    expect(gpuMicros(1.5)).toBe(1_500_000);
    expect(gpuMicros(1.2345675)).toBe(1_234_568);
    expect(gpuMicros(1.2345674)).toBe(1_234_567);
    expect(gpuMicros(0.0000005)).toBe(1);
    expect(gpuMicros(0.0000004)).toBe(0);
    expect(gpuMicros(3_600)).toBe(3_600_000_000);
  });

  it('rounds a negative half towards zero, as floor(x + 0.5) in SQL does', () => {
    expect(gpuMicros(-0.0000005)).toBe(0);
    expect(gpuMicros(-0.0000006)).toBe(-1);
  });
});

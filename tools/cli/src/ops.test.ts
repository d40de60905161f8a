import { describe, expect, it } from 'vitest';
import { priceLabel } from './ops.js';

describe('switchyard pools', () => {
  it('shows a GPU pool per GPU-hour and a provider pool per million tokens in `switchyard pools`', () => {
    const none = { pricePerGpuHour: 0, inputPerMillion: 0, cachedInputPerMillion: 0, outputPerMillion: 0 };
    expect(priceLabel({ ...none, costBasis: 'gpu-hour', pricePerGpuHour: 4.1 })).toBe('$4.10/GPU-h');
    expect(priceLabel({ ...none, costBasis: 'per-token', inputPerMillion: 2.5, cachedInputPerMillion: 1.25, outputPerMillion: 10 })).toBe(
      '$2.50/$1.25/$10.00 per M tok (in/cached/out)',
    );
    // A scheduler from before provider pools sends no basis: its price is per GPU-hour.
    expect(priceLabel({ ...none, costBasis: '', pricePerGpuHour: 3.7 })).toBe('$3.70/GPU-h');
  });
});

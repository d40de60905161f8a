/** Exponentially weighted mean of recent samples (weight 0.2 to the newest); 0 before any. */
export function ewma(previous: number, sample: number, weight = 0.2): number {
  return previous === 0 ? sample : previous + weight * (sample - previous);
}

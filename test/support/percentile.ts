/** The `p`th percentile of `xs` (nearest rank, 0 for none), as the suites print latencies. */
export const percentile = (xs: readonly number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? 0;

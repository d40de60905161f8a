/**
 * GPU time as the `gpu_us` columns hold it: whole microseconds, half up. SQL that converts
 * `gpu_seconds` columns rounds the same way, `floor(gpu_seconds * 1000000 + 0.5)`, so what
 * metering stored and what billing posted compare equal.
 */
export const gpuMicros = (gpuSeconds: number): number => Math.floor(gpuSeconds * 1e6 + 0.5);

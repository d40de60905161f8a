import { readFileSync } from 'node:fs';
import { LIVE_HEAP_METRIC } from '@switchyard/telemetry';

/** Resident memory of a process, in MB, from /proc (Linux). */
export const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const LIVE_HEAP_LINE = new RegExp(`^${LIVE_HEAP_METRIC}(?:\\{[^}]*\\})? (\\S+)$`, 'm');

/**
 * A service's live heap in MB (V8's heap right after its latest full collection), from the
 * Prometheus text of its /metrics; undefined before its first full collection, or when absent.
 */
export function liveHeapMbOf(metricsText: string): number | undefined {
  const bytes = Number(LIVE_HEAP_LINE.exec(metricsText)?.[1] ?? 0);
  return bytes > 0 ? bytes / 1024 / 1024 : undefined;
}

/** The metrics port a service's start line names (`{"metricsPort":41234,"pid":77,...}`), if it is one. */
export function metricsPortOf(logLine: string): { pid: number; port: number } | undefined {
  const port = /"metricsPort":(\d+)/.exec(logLine)?.[1];
  const pid = /"pid":(\d+)/.exec(logLine)?.[1];
  return port && pid ? { pid: Number(pid), port: Number(port) } : undefined;
}

import { readFileSync } from 'node:fs';

/** Resident memory of a process, in MB, from /proc (Linux). */
export const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

import { setTimeout as sleep } from 'node:timers/promises';

/** One request of a load run: resolves with the time to first token, in ms. */
export type Shot = () => Promise<number>;

export interface ClosedLoopResult {
  readonly concurrency: number;
  readonly completed: number;
  readonly failed: number;
  readonly perSecond: number;
  /** Failures by message, so a run that failed says why. */
  readonly errors: Record<string, number>;
}

/** Counts failures by their message. */
function errorTally() {
  const errors: Record<string, number> = {};
  const add = (e: unknown) => {
    const message = String((e as Error)?.message ?? e).slice(0, 160);
    errors[message] = (errors[message] ?? 0) + 1;
  };
  return { errors, add };
}

/** `concurrency` callers, each sending its next request as soon as the last one finished. */
export async function closedLoop(shot: Shot, concurrency: number, seconds: number): Promise<ClosedLoopResult> {
  let completed = 0;
  let failed = 0;
  const tally = errorTally();
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        try {
          await shot();
          completed++;
        } catch (e) {
          failed++;
          tally.add(e);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { concurrency, completed, failed, perSecond: completed / elapsed, errors: tally.errors };
}

/**
 * Raises concurrency until completed requests/s stop rising: two steps in a row that do not
 * beat the best so far by 5 % (one is not enough on a noisy shared machine). Returns every step.
 */
export async function ramp(shot: Shot, steps: readonly number[], seconds: number, log: (line: string) => void): Promise<ClosedLoopResult[]> {
  const results: ClosedLoopResult[] = [];
  let flat = 0;
  for (const c of steps) {
    const best = Math.max(...results.map((x) => x.perSecond), 0);
    const r = await closedLoop(shot, c, seconds);
    results.push(r);
    log(`  concurrency ${c}: ${r.perSecond.toFixed(0)} req/s (${r.failed} failed${failures(r.errors)})`);
    flat = results.length > 1 && r.perSecond < best * 1.05 ? flat + 1 : 0;
    if (flat === 2) break;
  }
  return results;
}

/** Sends at a fixed rate (open loop) for `seconds`; returns each request's latency. */
export async function paced(shot: Shot, perSecond: number, seconds: number): Promise<{ latencies: number[]; failed: number; errors: Record<string, number> }> {
  const latencies: number[] = [];
  let failed = 0;
  const tally = errorTally();
  const inFlight: Promise<void>[] = [];
  const total = Math.round(perSecond * seconds);
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inFlight.push(
      shot().then(
        (ms) => void latencies.push(ms),
        (e) => (failed++, tally.add(e)),
      ),
    );
  }
  await Promise.all(inFlight);
  return { latencies, failed, errors: tally.errors };
}

/** `; <count> x <message>` for each kind of failure, or nothing. */
export const failures = (errors: Record<string, number>) =>
  Object.entries(errors)
    .map(([message, n]) => `; ${n} x ${message}`)
    .join('');

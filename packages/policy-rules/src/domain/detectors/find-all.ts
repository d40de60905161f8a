import type { Match } from './types.js';

/**
 * Runs a global regex over `text` and keeps the matches that `accept` turns into a span.
 * `accept` returns `undefined` to reject a candidate, which is how detectors add checks
 * (checksums, lookup tables) that a regex cannot express without backtracking.
 * `matchAll` clones the regex, so shared module-level patterns stay stateless.
 */
export function findAll(
  re: RegExp,
  text: string,
  accept: (m: RegExpExecArray) => Match | undefined = (m) => ({ start: m.index, end: m.index + m[0].length }),
): Match[] {
  const out: Match[] = [];
  for (const m of text.matchAll(re)) {
    const span = accept(m as RegExpExecArray);
    if (span !== undefined && span.end > span.start) out.push(span);
  }
  return out;
}

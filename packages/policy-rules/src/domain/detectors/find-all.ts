import type { Match } from './types.js';

/**
 * Runs a global regex over `text` and keeps the matches that `accept` turns into a span.
 * `accept` returns `undefined` to reject a candidate, which is how detectors add checks
 * (checksums, lookup tables) that a regex cannot express without backtracking; it may also
 * return a span shorter than the candidate (the card at the front of a longer digit run).
 *
 * One match never hides the next: the search resumes where the accepted span ends, not
 * where the candidate ended, and after a rejected candidate it resumes one character on,
 * so an entity that a greedy candidate swallowed together with its neighbour is still
 * tried on its own. Detectors keep their candidates bounded in length, which keeps this
 * linear in the length of the text. The regex is cloned, so shared patterns stay stateless.
 */
export function findAll(
  re: RegExp,
  text: string,
  accept: (m: RegExpExecArray) => Match | undefined = (m) => ({ start: m.index, end: m.index + m[0].length }),
): Match[] {
  const out: Match[] = [];
  const search = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
  for (let m = search.exec(text); m !== null; m = search.exec(text)) {
    const span = accept(m);
    const found = span !== undefined && span.end > span.start;
    if (found) out.push(span);
    search.lastIndex = found ? Math.max(span.end, m.index + 1) : m.index + 1;
  }
  return out;
}

import { tokenText } from './text.js';

/** Where a stop sequence ends a simulated answer. */
export interface StopPoint {
  /** Output tokens generated: up to and including the one that completes the stop sequence. */
  readonly tokens: number;
  /** Characters of the answer the caller gets: the text before the stop sequence. */
  readonly visibleChars: number;
}

/**
 * Finds where the first stop sequence appears in the answer the simulated model gives for
 * `seed`, as OpenAI's `stop` does: generation ends with the token that completes it, and the
 * text sent stops before it. The answer is deterministic from the seed, so this is known
 * before the first token; undefined when no sequence appears within `maxTokens`. Empty
 * sequences are ignored (they would match before any output).
 */
export function findStop(seed: number, maxTokens: number, stops: readonly string[]): StopPoint | undefined {
  const wanted = stops.filter((s) => s.length > 0);
  if (wanted.length === 0) return undefined;
  const longest = Math.max(...wanted.map((s) => s.length));
  let text = '';
  for (let i = 0; i < maxTokens; i++) {
    // Only the new token's text and the tail a sequence could straddle need searching.
    const from = Math.max(0, text.length - longest + 1);
    text += tokenText(seed, i);
    let first = -1;
    for (const s of wanted) {
      const at = text.indexOf(s, from);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    if (first >= 0) return { tokens: i + 1, visibleChars: first };
  }
  return undefined;
}

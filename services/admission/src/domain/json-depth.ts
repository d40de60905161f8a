/** Deepest nesting of arrays and objects a request body may have. No OpenAI request needs more; tool schemas nest a few levels. */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether JSON text nests arrays and objects deeper than `max`, found in one pass over the
 * text with no recursion, before anything parses it: a body of 100,000 nested arrays is
 * refused in about a millisecond, and nothing later (validation, hashing, logging) has to
 * walk a tree that deep. Brackets inside strings do not count; text that is not JSON is left
 * to the parser to refuse.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

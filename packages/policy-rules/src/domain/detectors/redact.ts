import type { CategorizedMatch, Category } from './types.js';

/** The default redaction label: `[REDACTED:email]`. */
export const defaultLabel = (category: Category): string => `[REDACTED:${category}]`;

/**
 * Replaces every match in `text` with a label. Overlapping matches are merged into one
 * span, labelled with the category of its longest match (the earliest on a tie), so a
 * card number inside a leaked JSON blob is not redacted twice or left half visible.
 * Matches that only touch keep their own labels.
 */
export function redact(text: string, matches: readonly CategorizedMatch[], label: (category: Category) => string = defaultLabel): string {
  const sorted = matches
    .filter((m) => m.end > m.start)
    .slice()
    .sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let cursor = 0;
  let i = 0;
  while (i < sorted.length) {
    const first = sorted[i]!;
    let end = first.end;
    let longest = first;
    for (i++; i < sorted.length && sorted[i]!.start < end; i++) {
      const m = sorted[i]!;
      end = Math.max(end, m.end);
      if (m.end - m.start > longest.end - longest.start) longest = m;
    }
    out += text.slice(cursor, Math.max(cursor, first.start)) + label(longest.category);
    cursor = Math.max(cursor, end);
  }
  return out + text.slice(cursor);
}

import type { CategorizedMatch, Category, Detector, Match } from './types.js';

/** The matches of one detector in one text. */
export interface Finding {
  readonly id: string;
  readonly category: Category;
  readonly matches: readonly Match[];
}

/** Runs every detector over `text`; detectors that found nothing are left out. */
export function scan(text: string, detectors: readonly Detector[]): Finding[] {
  const findings: Finding[] = [];
  for (const d of detectors) {
    const matches = d.find(text);
    if (matches.length > 0) findings.push({ id: d.id, category: d.category, matches });
  }
  return findings;
}

/** Flattens findings into the categorized matches that `redact` takes. */
export function categorizedMatches(findings: readonly Finding[]): CategorizedMatch[] {
  return findings.flatMap((f) => f.matches.map((m) => ({ start: m.start, end: m.end, category: f.category })));
}

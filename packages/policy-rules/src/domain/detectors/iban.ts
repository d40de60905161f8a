import { ibanChecksumValid, ibanLength } from './iban-checksum.js';
import type { Detector, Match } from './types.js';

// Country, check digits, then alphanumerics each optionally preceded by one space. One
// character per repetition keeps the pattern unambiguous; the exact length comes from the
// country table in code, because a greedy run may swallow a following upper-case word.
const CANDIDATE = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,30}/g;

function ibanSpan(raw: string, offset: number): Match | undefined {
  const length = ibanLength(raw.slice(0, 2));
  if (length === undefined) return undefined;
  let compact = '';
  let i = 0;
  for (; i < raw.length && compact.length < length; i++) if (raw[i] !== ' ') compact += raw[i];
  // The IBAN must end where a token ends; otherwise it is a prefix of something longer.
  if (compact.length < length || (i < raw.length && raw[i] !== ' ')) return undefined;
  return ibanChecksumValid(compact) ? { start: offset, end: offset + i } : undefined;
}

/**
 * International bank account numbers, compact or in groups of four, validated against the
 * registered length for the country and the mod-97 check digits. Rule id `pii.iban`.
 */
export const ibanDetector: Detector = {
  id: 'pii.iban',
  category: 'iban',
  find: (text) => {
    // A greedy candidate may run over two IBANs written back to back, so the search
    // resumes where the accepted IBAN ends rather than after the whole candidate.
    const re = new RegExp(CANDIDATE);
    const out: Match[] = [];
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const span = ibanSpan(m[0], m.index);
      if (span !== undefined) out.push(span);
      re.lastIndex = span?.end ?? m.index + 1;
    }
    return out;
  },
};

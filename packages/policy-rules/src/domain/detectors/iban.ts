import { countrySpecs } from 'ibantools';
import { findAll } from './find-all.js';
import { ibanChecksumValid } from './iban-checksum.js';
import type { Detector, Match } from './types.js';

// Country, check digits, then alphanumerics each optionally preceded by one space or dash.
// One character per repetition keeps the pattern unambiguous; the exact length comes from
// the country's specification, because a greedy run may swallow a following upper-case
// word or the next IBAN.
const CANDIDATE = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]){10,30}/g;

/** The IBAN length `ibantools` registers for a two-letter country code, or `undefined`. */
function ibanLength(country: string): number | undefined {
  return countrySpecs[country]?.chars;
}

function ibanSpan(raw: string, offset: number): Match | undefined {
  const length = ibanLength(raw.slice(0, 2));
  if (length === undefined) return undefined;
  let compact = '';
  let i = 0;
  for (; i < raw.length && compact.length < length; i++) if (raw[i] !== ' ' && raw[i] !== '-') compact += raw[i];
  // The IBAN must end where a token ends; otherwise it is a prefix of something longer.
  if (compact.length < length || (i < raw.length && raw[i] !== ' ' && raw[i] !== '-')) return undefined;
  return ibanChecksumValid(compact) ? { start: offset, end: offset + i } : undefined;
}

/**
 * International bank account numbers, compact or in groups split by spaces or dashes:
 * a country `ibantools` knows, the length it registers for that country, and ISO 13616
 * mod-97 check digits. The country's BBAN layout and its banks' own check digits are not
 * required: mod-97 already rejects 96 in 97 look-alikes, and an account number that
 * breaks them is a mistyped or made-up one, still worth redacting. Rule id `pii.iban`.
 */
export const ibanDetector: Detector = {
  id: 'pii.iban',
  category: 'iban',
  find: (text) => findAll(CANDIDATE, text, (m) => ibanSpan(m[0], m.index)),
};

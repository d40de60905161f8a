import { findAll } from './find-all.js';
import type { Detector } from './types.js';

// A phone number must not start inside another token, nor right after a digit group
// ("DE89 3704 0044 0532" must not yield "0044 0532 ..."), and must not run on into more
// digits. Separators between groups are mandatory except where noted, which is what keeps
// dates, versions and plain digit runs out, and keeps the group repetitions unambiguous
// (each group starts with a separator), so backtracking stays bounded.
const START = String.raw`(?<![\w+.\-/#]|\d[ .\-/])`;
const END = String.raw`(?![\w/:]|[ .\-]\d|[.\-/][A-Za-z])`;

const FORMS = [
  // +44 20 7946 0958, +1 (415) 555-2671, +44 (0)20 7946 0958, +31 6 12345678
  String.raw`\+[1-9]\d{0,2}(?:[ .\-]?\(\d{1,4}\)[ .\-]?\d{1,8})?(?:[ .\-]\d{1,8}){1,6}`,
  // 0044 20 7946 0958: the 00 call prefix. A space must follow the country code, or
  // dashed ids such as 001-01-0001 would qualify.
  String.raw`00[1-9]\d{0,2} \d{1,8}(?:[ .\-]\d{1,8}){1,5}`,
  // E.164 written compactly: +14155552671
  String.raw`\+[1-9]\d{7,14}`,
  // North American: (415) 555-2671, 415-555-2671, 415.555.2671, 1-800-555-0199
  String.raw`(?:1[ .\-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4}`,
  // European national forms with a trunk 0: 020 7946 0958, 07700 900123, 030 901820
  String.raw`0[1-9]\d{0,3}[ \-]\d{3,4}[ \-]?\d{3,4}`,
  // French-style pairs: 01 42 68 53 00
  String.raw`0[1-9](?:[ .]\d{2}){4}`,
];

const CANDIDATE = new RegExp(`${START}(?:${FORMS.join('|')})${END}`, 'g');

/**
 * Phone numbers in international (E.164, `+CC ...`) and common national forms. A run of
 * digits without phone structure (separators in phone positions or a leading `+`) is not
 * a phone number: order ids, timestamps and amounts look exactly like that. Rule id
 * `pii.phone`.
 */
export const phoneDetector: Detector = {
  id: 'pii.phone',
  category: 'phone',
  find: (text) =>
    findAll(CANDIDATE, text, (m) => {
      const digits = m[0].replace(/\D/g, '').length;
      // E.164 allows at most 15 digits; fewer than 8 is an extension or a short code.
      if (digits < 8 || digits > 15) return undefined;
      return { start: m.index, end: m.index + m[0].length };
    }),
};

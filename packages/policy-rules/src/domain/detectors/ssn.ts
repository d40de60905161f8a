import { findAll } from './find-all.js';
import type { Detector } from './types.js';

// AAA-GG-SSSS, or the same groups split by spaces or dots (one separator throughout).
// Nine bare digits are far more often an id than an SSN, so a separator is required. It
// may follow another number and a space ("Room 12 078 05 1123"), but not a country code,
// where the groups are a phone number's ("+44 123 45 6789").
const CANDIDATE = /(?<![\w\-.\/+]|\d[-.]|\+\d{1,3}[ .])(\d{3})([-. ])(\d{2})\2(\d{4})(?![\w\/]|[-.]\d)/g;

// A 3-2-4 group split by spaces or dots is also how some phone numbers and version strings
// are written; when the word right before it says so, it is read as one of those. The
// dashed form is the SSA's own and is taken as an SSN whatever precedes it.
const OTHER_NUMBER_CUE = /\b(?:fax|phone|tel|telephone|mobile|cell|call|dial|version|build|release|firmware|v)\W{0,3}$/i;

/**
 * US Social Security numbers written `AAA-GG-SSSS`, `AAA GG SSSS` or `AAA.GG.SSSS`. The SSA
 * never issues area 000, 666 or 900-999, group 00 or serial 0000, so those are rejected:
 * they are usually placeholders or other identifiers with the same shape. Rule id `pii.ssn`.
 */
export const ssnDetector: Detector = {
  id: 'pii.ssn',
  category: 'ssn',
  find: (text) =>
    findAll(CANDIDATE, text, (m) => {
      const area = Number(m[1]);
      if (area === 0 || area === 666 || area >= 900) return undefined;
      if (m[3] === '00' || m[4] === '0000') return undefined;
      if (m[2] !== '-' && OTHER_NUMBER_CUE.test(text.slice(Math.max(0, m.index - 24), m.index))) return undefined;
      return { start: m.index, end: m.index + m[0].length };
    }),
};

import { decodeBase64Text } from './base64-text.js';
import { findFamily, injectionFamilies } from './injection-phrases.js';
import type { Detector, Match } from './types.js';

// Base64 or base64url runs long enough to carry a sentence ("Ignore previous
// instructions" encodes to 40 characters).
const BLOB = /(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{24,}={0,2}(?![A-Za-z0-9+/=_\-])/g;

const FAMILIES = Object.values(injectionFamilies);

/**
 * Base64 payloads that decode to text containing an injection phrase: the whole blob is
 * the match, since the instruction is in its decoded form. Rule id `injection.encoded`.
 */
export const encodedInjectionDetector: Detector = {
  id: 'injection.encoded',
  category: 'injection',
  find: (text) => {
    const out: Match[] = [];
    for (const m of text.matchAll(BLOB)) {
      const decoded = decodeBase64Text(m[0]);
      if (decoded !== undefined && FAMILIES.some((re) => findFamily(re, decoded).length > 0)) {
        out.push({ start: m.index, end: m.index + m[0].length });
      }
    }
    return out;
  },
};

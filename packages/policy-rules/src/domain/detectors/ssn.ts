import { findAll } from './find-all.js';
import type { Detector } from './types.js';

// Only the dashed form: nine bare digits are far more often an id than an SSN.
const CANDIDATE = /(?<![\w\-.\/]|\d )(\d{3})-(\d{2})-(\d{4})(?![\w\/]|[-.]\d)/g;

/**
 * US Social Security numbers written `AAA-GG-SSSS`. The SSA never issues area 000, 666 or
 * 900-999, group 00 or serial 0000, so those are rejected: they are usually placeholders
 * or other identifiers with the same shape. Rule id `pii.ssn`.
 */
export const ssnDetector: Detector = {
  id: 'pii.ssn',
  category: 'ssn',
  find: (text) =>
    findAll(CANDIDATE, text, (m) => {
      const area = Number(m[1]);
      if (area === 0 || area === 666 || area >= 900) return undefined;
      if (m[2] === '00' || m[3] === '0000') return undefined;
      return { start: m.index, end: m.index + m[0].length };
    }),
};

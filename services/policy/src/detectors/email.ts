import { findAll } from './find-all.js';
import type { Detector } from './types.js';

// Candidates are found with flat character classes only; the domain is then checked in
// code. The lookbehind makes every position inside a run of local-part characters fail in
// one step, so a long run without '@' costs O(n), not O(n^2).
const CANDIDATE = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+/g;

// Retina asset names (`icon@2x.png`) have the shape of an address; their "TLD" is a file type.
const FILE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'tif', 'tiff', 'avif']);

// `scheme://user:password@host` carries a password, not an address (the secret detectors
// cover it).
const URL_USERINFO = /:\/\/[^\s/@]*:$/;

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function validDomain(domain: string): boolean {
  const labels = domain.split('.');
  if (labels.length < 2 || domain.length > 253) return false;
  const tld = labels[labels.length - 1]!;
  if (!/^[A-Za-z]{2,24}$/.test(tld) || FILE_EXTENSIONS.has(tld.toLowerCase())) return false;
  return labels.every((l) => LABEL.test(l));
}

/** Email addresses (`user.name+tag@example.co.uk`). Rule id `pii.email`. */
export const emailDetector: Detector = {
  id: 'pii.email',
  category: 'email',
  find: (text) =>
    findAll(CANDIDATE, text, (m) => {
      const at = m[0].indexOf('@');
      // Sentence punctuation sticks to both ends of a greedy candidate: "(see a@b.com.)".
      const lead = /^[._%+-]*/.exec(m[0])![0].length;
      const domain = m[0].slice(at + 1).replace(/[.-]+$/, '');
      const local = m[0].slice(lead, at);
      if (local.length === 0 || local.length > 64 || local.endsWith('.') || local.includes('..')) return undefined;
      if (!validDomain(domain)) return undefined;
      if (URL_USERINFO.test(text.slice(Math.max(0, m.index - 200), m.index + lead))) return undefined;
      return { start: m.index + lead, end: m.index + at + 1 + domain.length };
    }),
};

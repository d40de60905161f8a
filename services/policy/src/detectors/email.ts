import type { Detector, Match } from './types.js';

// Scanning outward from each '@' (found with indexOf) costs nothing on text without
// addresses, and each character is visited a bounded number of times: a local part stops
// at the previous '@', which is not a local-part character.
const LOCAL_CHAR = /[A-Za-z0-9._%+\-]/;
const DOMAIN_CHAR = /[A-Za-z0-9.\-]/;

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

function addressAt(text: string, at: number): Match | undefined {
  let start = at;
  while (start > 0 && LOCAL_CHAR.test(text[start - 1]!)) start--;
  let end = at + 1;
  while (end < text.length && DOMAIN_CHAR.test(text[end]!)) end++;
  // Sentence punctuation sticks to both ends: "(see .a@b.com.)".
  while (start < at && /[._%+\-]/.test(text[start]!)) start++;
  while (end > at + 1 && /[.\-]/.test(text[end - 1]!)) end--;
  const local = text.slice(start, at);
  const domain = text.slice(at + 1, end);
  if (local.length === 0 || local.length > 64 || local.endsWith('.') || local.includes('..')) return undefined;
  if (!validDomain(domain)) return undefined;
  if (URL_USERINFO.test(text.slice(Math.max(0, start - 200), start))) return undefined;
  return { start, end };
}

/** Email addresses (`user.name+tag@example.co.uk`). Rule id `pii.email`. */
export const emailDetector: Detector = {
  id: 'pii.email',
  category: 'email',
  find: (text) => {
    const out: Match[] = [];
    for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
      const m = addressAt(text, at);
      if (m !== undefined) out.push(m);
    }
    return out;
  },
};

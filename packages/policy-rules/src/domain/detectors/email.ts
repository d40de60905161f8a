import type { Detector, Match } from './types.js';

// Scanning outward from each '@' (found with indexOf) costs nothing on text without
// addresses, and each character is visited a bounded number of times: a local part stops
// at the previous '@', which is not a local-part character.
const isAlnum = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
// . - are 46 45; _ % + are 95 37 43.
const isDomainChar = (c: number): boolean => isAlnum(c) || c === 46 || c === 45;
const isLocalChar = (c: number): boolean => isDomainChar(c) || c === 95 || c === 37 || c === 43;

// Retina asset names (`icon@2x.png`) have the shape of an address; their "TLD" is a file type.
const FILE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'tif', 'tiff', 'avif']);

// `scheme://user:password@host` carries a password, not an address (the secret detectors
// cover it).
const URL_USERINFO = /:\/\/[^\s/@]*:$/;

// A top-level domain is letters, or an internationalised one in its ASCII (punycode) form:
// `.xn--p1ai` is .рф.
const TLD = /^(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})$/i;

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function validDomain(domain: string): boolean {
  const labels = domain.split('.');
  if (labels.length < 2 || domain.length > 253) return false;
  const tld = labels[labels.length - 1]!;
  if (!TLD.test(tld) || FILE_EXTENSIONS.has(tld.toLowerCase())) return false;
  return labels.every((l) => LABEL.test(l));
}

function addressAt(text: string, at: number): Match | undefined {
  let start = at;
  while (start > 0 && isLocalChar(text.charCodeAt(start - 1))) start--;
  let end = at + 1;
  while (end < text.length && isDomainChar(text.charCodeAt(end))) end++;
  // Sentence punctuation sticks to both ends: "(see .a@b.com.)".
  while (start < at && !isAlnum(text.charCodeAt(start))) start++;
  while (end > at + 1 && !isAlnum(text.charCodeAt(end - 1))) end--;
  if (start === at || !text.slice(at + 1, end).includes('.')) return undefined;
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

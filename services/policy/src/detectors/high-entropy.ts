import { decodeBase64Text } from './base64-text.js';
import { shannonEntropy } from './entropy.js';
import type { Detector, Match } from './types.js';

// Runs of base64/base64url characters. The lookbehind lets a run be tried from its first
// character only, and the lookahead fails in one step per backtrack, so cost is O(n).
const CANDIDATE = /(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{32,}={0,2}(?![A-Za-z0-9+/=_\-])/g;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]+$/i;

/** Default minimum length of a token considered as a secret. */
export const MIN_SECRET_LENGTH = 32;
/** Default minimum Shannon entropy, bits per character; random base62 of 32+ chars is ~4.5. */
export const MIN_SECRET_ENTROPY = 4.0;

function classCount(s: string, re: RegExp): number {
  return s.match(re)?.length ?? 0;
}

/**
 * Whether a token looks like a random credential. Hex-only tokens (git SHAs, digests,
 * UUIDs) are deliberately not flagged: in prompts they are overwhelmingly content
 * identifiers, and hex API keys of known shape are covered by the provider detector.
 * Base64 that decodes to readable text is encoded prose, not key material.
 */
export function looksLikeSecret(token: string): boolean {
  if (token.length < MIN_SECRET_LENGTH || UUID.test(token) || HEX.test(token)) return false;
  // Random base62/64 of this length nearly always mixes all three classes; identifiers,
  // paths and slugs rarely carry two digits and two capitals at once.
  if (classCount(token, /[0-9]/g) < 2 || classCount(token, /[A-Z]/g) < 2 || classCount(token, /[a-z]/g) < 2) return false;
  if (shannonEntropy(token) < MIN_SECRET_ENTROPY) return false;
  return decodeBase64Text(token) === undefined;
}

/**
 * High-entropy tokens of 32+ base64/base64url characters that are not of a known
 * provider shape: leaked passwords, signing keys, AWS secret access keys. Data URIs are
 * skipped, since their payload is file content. Rule id `secret.high_entropy`.
 */
export const highEntropyDetector: Detector = {
  id: 'secret.high_entropy',
  category: 'secret',
  find: (text) => {
    const out: Match[] = [];
    for (const m of text.matchAll(CANDIDATE)) {
      if (text.slice(Math.max(0, m.index - 7), m.index) === 'base64,') continue;
      if (looksLikeSecret(m[0])) out.push({ start: m.index, end: m.index + m[0].length });
    }
    return out;
  },
};

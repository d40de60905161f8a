import { decodeBase64Text } from './base64-text.js';
import { shannonEntropy } from './entropy.js';
import type { Detector, Match } from './types.js';

// Runs of base64/base64url characters. The lookbehind lets a run be tried from its first
// character only, and the lookahead fails in one step per backtrack, so cost is O(n).
// '=' may end a run but not precede one: in `API_KEY=abc...` it is an assignment.
const CANDIDATE = /(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{32,}={0,2}(?![A-Za-z0-9+/=_\-])/g;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]+$/i;
// Long random-looking values that are public by design: Stripe publishable keys,
// subresource-integrity hashes, SSH public keys (whose wire format starts with "AAAA").
const PUBLIC_PREFIX = /^(?:pk_(?:live|test)_|sha(?:256|384|512)-|AAAA[A-Z0-9])/;
// Lower-case runs of four or more letters (optionally capitalised): words. Random base62
// has few; slugs, paths and identifiers are mostly made of them.
const WORDS = /[A-Z]?[a-z]{4,}/g;
// PEM blocks that hold public material; their base64 lines are not secrets.
const PUBLIC_PEM =
  /-----BEGIN (?:PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE|CERTIFICATE REQUEST|X509 CRL|PGP PUBLIC KEY BLOCK)-----[A-Za-z0-9+/=\s]*-----END [A-Z0-9 ]+-----/g;

/** Default minimum length of a token considered as a secret. */
export const MIN_SECRET_LENGTH = 32;
/** Default minimum Shannon entropy in bits per character; random base62 of 32+ is ~4.5. */
export const MIN_SECRET_ENTROPY = 4.0;
/** Largest share of a token that may be made of words before it reads as an identifier. */
export const MAX_WORD_SHARE = 0.3;

/**
 * Whether a token looks like a random credential. Hex-only tokens (git SHAs, digests,
 * UUIDs) are deliberately not flagged: in prompts they are overwhelmingly content
 * identifiers, and hex API keys of known shape are covered by the provider detector.
 * Base64 that decodes to readable text is encoded prose, not key material.
 */
export function looksLikeSecret(token: string): boolean {
  if (token.length < MIN_SECRET_LENGTH || UUID.test(token) || HEX.test(token) || PUBLIC_PREFIX.test(token)) return false;
  // Random base62/64 of this length nearly always mixes all three classes.
  if (!/[0-9]/.test(token) || !/[A-Z]/.test(token) || !/[a-z]/.test(token)) return false;
  if (shannonEntropy(token) < MIN_SECRET_ENTROPY) return false;
  let wordChars = 0;
  for (const w of token.matchAll(WORDS)) wordChars += w[0].length;
  if (wordChars / token.length > MAX_WORD_SHARE) return false;
  return decodeBase64Text(token) === undefined;
}

function publicPemRanges(text: string): Match[] {
  if (!text.includes('-----BEGIN ')) return [];
  return [...text.matchAll(PUBLIC_PEM)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
}

/**
 * High-entropy tokens of 32+ base64/base64url characters that are not of a known
 * provider shape: leaked passwords, signing keys, AWS secret access keys. Data URIs,
 * public keys and certificates are skipped, since their payload is public.
 * Rule id `secret.high_entropy`.
 */
export const highEntropyDetector: Detector = {
  id: 'secret.high_entropy',
  category: 'secret',
  find: (text) => {
    const out: Match[] = [];
    const skip = publicPemRanges(text);
    for (const m of text.matchAll(CANDIDATE)) {
      if (text.slice(Math.max(0, m.index - 7), m.index) === 'base64,') continue;
      if (skip.some((r) => m.index >= r.start && m.index < r.end)) continue;
      if (looksLikeSecret(m[0])) out.push({ start: m.index, end: m.index + m[0].length });
    }
    return out;
  },
};

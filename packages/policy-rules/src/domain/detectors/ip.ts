import ipaddr from 'ipaddr.js';
import { findAll } from './find-all.js';
import type { Detector, Match } from './types.js';

// A dotted quad with valid octets is an address even when the text calls it a version:
// "1.2.3.4" cannot be told apart from 1.2.3.4 the host. What is excluded is a quad that is
// part of something longer: "v1.2.3.4", "1.2.3.4.5", "10.0.0.1234".
const IPV4 = /(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)/g;

// Candidates for IPv6: hextets separated by colons, optionally ending in a dotted quad.
// A colon starts every repetition, so the split into hextets is unambiguous; whether it is
// an address is for ipaddr.js to say.
const IPV6 = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?![\w:]|\.\d)/g;

/**
 * Whether `s` is an IPv6 address worth flagging. Forms that write fewer than two groups
 * ("::", "::7", "7::") are also slice syntax (`a[::2]`); loopback "::1" is the one short
 * form common enough in prose to keep.
 */
export function isIpv6(s: string): boolean {
  if (!ipaddr.IPv6.isValid(s)) return false;
  const written = s.split(':').reduce((n, g) => n + (g === '' ? 0 : g.includes('.') ? 2 : 1), 0);
  return written >= 2 || s === '::1';
}

/**
 * IPv4 addresses in dotted-quad form with valid octets (no leading zeros) and IPv6
 * addresses in full, compressed or IPv4-mapped form, as ipaddr.js parses them. MAC
 * addresses and times have the wrong group count and are not matched. Rule id `pii.ip`.
 */
export const ipDetector: Detector = {
  id: 'pii.ip',
  category: 'ip',
  find: (text) => {
    const v4 = findAll(IPV4, text, (m): Match | undefined =>
      ipaddr.IPv4.isValidFourPartDecimal(m[0]) ? { start: m.index, end: m.index + m[0].length } : undefined,
    );
    const v6 = findAll(IPV6, text, (m): Match | undefined => (isIpv6(m[0]) ? { start: m.index, end: m.index + m[0].length } : undefined));
    return v6.length === 0 ? v4 : [...v4, ...v6].sort((a, b) => a.start - b.start);
  },
};

import type { Detector, Match } from './types.js';

// A credential-named key, an assignment, then the value. The key name may be part of a
// longer identifier (DB_PASSWORD, client_secret, "apiKey"); the value is one token.
// All parts are single classes or literal alternations: linear.
const ASSIGNMENT =
  /(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_\-.])?(?:password|passwd|pwd|pass|secret|api[_\-]?key|apikey|access[_\-]?key|secret[_\-]?key|auth[_\-]?token|access[_\-]?token|client[_\-]?secret|private[_\-]?key)["']?[ \t]{0,4}(?:=|:|=>|:=)[ \t]{0,4}(["'`]?)([^\s"'`,;]{8,200})\1/gi;

// Values that name a secret instead of being one: references, templates, masks, and
// paths (`pwd: /home/me` is a shell prompt, not a password).
const INDIRECT = /^(?:[/~]|process\.env|os\.environ|env\(|\$\{|\$[A-Z_]|\{\{|<|%|\*{3,}|x{4,}|null|undefined|true|false|none)|\(\)$/i;

/** How many of lower, upper, digit and symbol classes `s` mixes. */
function classes(s: string): number {
  return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(s)).length;
}

/**
 * Passwords and keys assigned to a credential-named field in config, code or env files
 * (`DB_PASSWORD=...`, `"client_secret": "..."`). Values that are references
 * (`process.env.X`, `${X}`), placeholders, masks, or a single character class (a plain
 * word, a type name such as `string`) are left out. Rule id `secret.assignment`.
 */
export const secretAssignmentDetector: Detector = {
  id: 'secret.assignment',
  category: 'secret',
  find: (text) => {
    const out: Match[] = [];
    for (const m of text.matchAll(ASSIGNMENT)) {
      const value = m[2]!;
      if (INDIRECT.test(value) || classes(value) < 2) continue;
      const start = m.index + m[0].lastIndexOf(value);
      out.push({ start, end: start + value.length });
    }
    return out;
  },
};

import type { Detector, Match } from './types.js';

// Each shape starts with a fixed, provider-specific prefix, so a hit is near-certain.
// Bodies are single character classes with bounded repetition: linear by construction.
// A body must also contain a digit, which rules out prose such as "sk-learn-compatible-...".
const B = String.raw`(?<![A-Za-z0-9_\-])`;
const E = String.raw`(?![A-Za-z0-9_\-])`;

const SHAPES: readonly RegExp[] = [
  // AWS access key ids (long-term AKIA, temporary ASIA, and the other IAM id prefixes).
  new RegExp(String.raw`${B}(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}${E}`, 'g'),
  // GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens.
  new RegExp(String.raw`${B}gh[pousr]_[A-Za-z0-9]{36,251}${E}`, 'g'),
  new RegExp(String.raw`${B}github_pat_[A-Za-z0-9_]{50,240}${E}`, 'g'),
  // GitLab, npm, Hugging Face.
  new RegExp(String.raw`${B}glpat-[A-Za-z0-9_\-]{20,50}${E}`, 'g'),
  new RegExp(String.raw`${B}npm_[A-Za-z0-9]{36}${E}`, 'g'),
  new RegExp(String.raw`${B}hf_[A-Za-z0-9]{30,40}${E}`, 'g'),
  // Slack tokens and incoming-webhook URLs.
  new RegExp(String.raw`${B}xox[baprs]-[A-Za-z0-9\-]{10,250}${E}`, 'g'),
  /https:\/\/hooks\.slack\.com\/services\/T[A-Z0-9]{6,12}\/B[A-Z0-9]{6,12}\/[A-Za-z0-9]{20,32}/g,
  // Stripe secret and restricted keys, webhook signing secrets. Publishable pk_ keys are
  // public by design and are not flagged.
  new RegExp(String.raw`${B}(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}${E}`, 'g'),
  new RegExp(String.raw`${B}whsec_[A-Za-z0-9+/]{24,64}${E}`, 'g'),
  // OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-api03-) keys.
  new RegExp(String.raw`${B}sk-[A-Za-z0-9_\-]{20,200}${E}`, 'g'),
  // Google API keys.
  new RegExp(String.raw`${B}AIza[0-9A-Za-z_\-]{35}${E}`, 'g'),
  // SendGrid and Twilio API keys.
  new RegExp(String.raw`${B}SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}${E}`, 'g'),
  new RegExp(String.raw`${B}SK[0-9a-f]{32}${E}`, 'g'),
  // JWTs: a base64url JSON header and payload ("eyJ" is '{"'), then the signature.
  new RegExp(String.raw`${B}eyJ[A-Za-z0-9_\-]{8,2000}\.eyJ[A-Za-z0-9_\-]{8,8000}\.[A-Za-z0-9_\-]{0,1000}${E}`, 'g'),
  // Passwords embedded in connection strings: scheme://user:password@host.
  /\b[a-z][a-z0-9+.\-]{1,20}:\/\/[^\s:\/@]{1,100}:[^\s\/@]{3,200}@/g,
];

/**
 * API keys and tokens of well-known providers (AWS, GitHub, GitLab, npm, Hugging Face,
 * Slack, Stripe, OpenAI, Anthropic, Google, SendGrid, Twilio), JWTs and passwords in
 * connection-string URLs. Rule id `secret.api_key`.
 */
export const providerKeyDetector: Detector = {
  id: 'secret.api_key',
  category: 'secret',
  find: (text) => {
    const out: Match[] = [];
    for (const re of SHAPES) {
      for (const m of text.matchAll(re)) if (/\d/.test(m[0])) out.push({ start: m.index, end: m.index + m[0].length });
    }
    return out.sort((a, b) => a.start - b.start);
  },
};

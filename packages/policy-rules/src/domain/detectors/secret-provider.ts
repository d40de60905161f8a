import type { Detector, Match } from './types.js';

// Each shape starts with a fixed, provider-specific prefix, so a hit is near-certain.
// Bodies are single character classes with bounded repetition: linear by construction.
// All shapes share one regex (one pass over the text is ~6x faster than one per shape).
const TOKEN_SHAPES = [
  // AWS access key ids (long-term AKIA, temporary ASIA, and the other IAM id prefixes).
  String.raw`(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}`,
  // GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens.
  String.raw`gh[pousr]_[A-Za-z0-9]{36,251}`,
  String.raw`github_pat_[A-Za-z0-9_]{50,240}`,
  // GitLab, npm, Hugging Face.
  String.raw`glpat-[A-Za-z0-9_\-]{20,50}`,
  String.raw`npm_[A-Za-z0-9]{36}`,
  String.raw`hf_[A-Za-z0-9]{30,40}`,
  // Slack bot, user, app and refresh tokens.
  String.raw`xox[baprs]-[A-Za-z0-9\-]{10,250}`,
  // Stripe secret and restricted keys, webhook signing secrets. Publishable pk_ keys are
  // public by design and are not flagged.
  String.raw`(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}`,
  String.raw`whsec_[A-Za-z0-9+/]{24,64}`,
  // OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-api03-) keys.
  String.raw`sk-[A-Za-z0-9_\-]{20,200}`,
  // Google API keys.
  String.raw`AIza[0-9A-Za-z_\-]{35}`,
  // SendGrid and Twilio API keys.
  String.raw`SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}`,
  String.raw`SK[0-9a-f]{32}`,
  // JWTs: a base64url JSON header and payload ("eyJ" is '{"'), then the signature.
  String.raw`eyJ[A-Za-z0-9_\-]{8,2000}\.eyJ[A-Za-z0-9_\-]{8,8000}\.[A-Za-z0-9_\-]{0,1000}`,
];
const TOKENS = new RegExp(String.raw`(?<![A-Za-z0-9_\-])(?:${TOKEN_SHAPES.join('|')})(?![A-Za-z0-9_\-])`, 'g');

const URL_SHAPES = [
  // Slack incoming-webhook URLs.
  String.raw`https:\/\/hooks\.slack\.com\/services\/T[A-Z0-9]{6,12}\/B[A-Z0-9]{6,12}\/[A-Za-z0-9]{20,32}`,
  // Passwords embedded in connection strings: scheme://user:password@host.
  String.raw`\b[a-z][a-z0-9+.\-]{1,20}:\/\/[^\s:\/@]{1,100}:[^\s\/@]{3,200}@`,
];
const URLS = new RegExp(URL_SHAPES.join('|'), 'g');

/**
 * API keys and tokens of well-known providers (AWS, GitHub, GitLab, npm, Hugging Face,
 * Slack, Stripe, OpenAI, Anthropic, Google, SendGrid, Twilio), JWTs and passwords in
 * connection-string URLs. A match must contain a digit, which rules out prose that
 * happens to share a prefix ("sk-learn-compatible-estimators-and-pipelines").
 * Rule id `secret.api_key`.
 */
export const providerKeyDetector: Detector = {
  id: 'secret.api_key',
  category: 'secret',
  find: (text) => {
    const out: Match[] = [];
    // Both URL shapes contain "://"; most prompts do not, and then the pass is skipped.
    for (const re of text.includes('://') ? [TOKENS, URLS] : [TOKENS]) {
      for (const m of text.matchAll(re)) if (/\d/.test(m[0])) out.push({ start: m.index, end: m.index + m[0].length });
    }
    return out.sort((a, b) => a.start - b.start);
  },
};

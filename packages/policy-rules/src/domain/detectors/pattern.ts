import { DomainError } from '@switchyard/contracts';
import { unsafeRegexReason } from './regex-safety.js';
import type { Category, Detector, Match } from './types.js';

/** A tenant-supplied regular expression. `flags` may use `i`, `m`, `s`, `u`; `g` is implied. */
export interface RegexPattern {
  readonly regex: string;
  readonly flags?: string;
}

/** Options of `createPatternDetector`. */
export interface PatternDetectorOptions {
  /** Rule id reported with every match, e.g. `tenant.acme.blocked.crypto`. */
  readonly id: string;
  /** Usually `blocked_topic` or `custom`. */
  readonly category: Category;
  /**
   * A string is a keyword or phrase, matched case-insensitively on word boundaries, with
   * any run of whitespace matching the spaces in it. An object is a regular expression.
   */
  readonly patterns: readonly (string | RegexPattern)[];
}

/** Longest accepted regex source; long tenant patterns are where backtracking hides. */
export const MAX_PATTERN_LENGTH = 512;

const ALLOWED_FLAGS = /^[imsu]*$/;

function keywordSource(keyword: string): string {
  const words = keyword
    .trim()
    .split(/\s+/)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  // Unicode-aware boundaries: `\b` knows only ASCII letters, so "café" would match in "cafés".
  return String.raw`(?<![\p{L}\p{N}_])${words.join(String.raw`\s+`)}(?![\p{L}\p{N}_])`;
}

function invalid(id: string, message: string, cause?: unknown): DomainError {
  return new DomainError('INVALID_ARGUMENT', `pattern rule ${id}: ${message}`, { cause });
}

function compileRegex(id: string, p: RegexPattern): RegExp {
  const flags = p.flags ?? '';
  if (!ALLOWED_FLAGS.test(flags)) throw invalid(id, `unsupported regex flags "${flags}" (allowed: i, m, s, u)`);
  if (p.regex.length === 0) throw invalid(id, 'empty regex');
  if (p.regex.length > MAX_PATTERN_LENGTH) throw invalid(id, `regex longer than ${MAX_PATTERN_LENGTH} characters`);
  const unsafe = unsafeRegexReason(p.regex);
  if (unsafe !== undefined) throw invalid(id, `unsafe regex /${p.regex}/: ${unsafe}`);
  try {
    return new RegExp(p.regex, `${flags}g`);
  } catch (e) {
    throw invalid(id, `invalid regex /${p.regex}/: ${(e as Error).message}`, e);
  }
}

/**
 * Builds a detector from tenant-defined keywords and regexes, for blocked topics and
 * custom rules. Throws a `DomainError` with code `INVALID_ARGUMENT` naming the rule id
 * when a pattern does not compile or is unsafe to run on untrusted text.
 */
export function createPatternDetector(options: PatternDetectorOptions): Detector {
  const { id, category, patterns } = options;
  if (patterns.length === 0) throw invalid(id, 'no patterns');
  const keywords = patterns.filter((p): p is string => typeof p === 'string');
  if (keywords.some((k) => k.trim().length === 0)) throw invalid(id, 'empty keyword');
  const compiled = patterns.filter((p): p is RegexPattern => typeof p !== 'string').map((p) => compileRegex(id, p));
  // All keywords share one pass over the text.
  if (keywords.length > 0) compiled.push(new RegExp(keywords.map(keywordSource).join('|'), 'giu'));
  return {
    id,
    category,
    find: (text) => {
      const out: Match[] = [];
      for (const re of compiled) {
        // Zero-length matches (`^`, `\b`) mark no text to redact; matchAll steps past them.
        for (const m of text.matchAll(re)) if (m[0].length > 0) out.push({ start: m.index, end: m.index + m[0].length });
      }
      return out.sort((a, b) => a.start - b.start);
    },
  };
}

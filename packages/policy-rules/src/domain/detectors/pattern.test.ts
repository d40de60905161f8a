import { describe, expect, it } from 'vitest';
import { isDomainError } from '@switchyard/contracts';
import { createPatternDetector } from './pattern.js';
import { unsafeRegexReason } from './regex-safety.js';

const hits = (patterns: Parameters<typeof createPatternDetector>[0]['patterns'], text: string): string[] =>
  createPatternDetector({ id: 'tenant.acme.topics', category: 'blocked_topic', patterns })
    .find(text)
    .map((m) => text.slice(m.start, m.end));

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('createPatternDetector', () => {
  it('matches keywords case-insensitively on word boundaries, spaces flexible', () => {
    expect(hits(['casino', 'online betting'], 'Casino nights and ONLINE   betting, not casinos.')).toEqual(['Casino', 'ONLINE   betting']);
    expect(hits(['café'], 'Le café, les cafés')).toEqual(['café']);
    expect(hits(['c++'], 'I write C++ daily')).toEqual(['C++']);
  });

  it('runs tenant regexes with their flags', () => {
    expect(hits([{ regex: 'PROJ-\\d{4}', flags: 'i' }], 'see proj-0042 and PROJ-12')).toEqual(['proj-0042']);
    expect(hits([{ regex: '^' }, { regex: 'x*' }], 'abc')).toEqual([]);
  });

  it('rejects a regex that does not compile, naming the rule id', () => {
    const e = thrown(() => createPatternDetector({ id: 'tenant.acme.bad', category: 'custom', patterns: [{ regex: '(unclosed' }] }));
    expect(isDomainError(e) && e.code).toBe('INVALID_ARGUMENT');
    expect((e as Error).message).toContain('tenant.acme.bad');
    expect((e as Error).message).toContain('(unclosed');
  });

  it('rejects unsafe regexes, unknown flags and empty patterns', () => {
    const make = (patterns: Parameters<typeof createPatternDetector>[0]['patterns']) => () =>
      createPatternDetector({ id: 'tenant.acme.r', category: 'custom', patterns });
    expect(make([{ regex: '(a+)+$' }])).toThrow(/tenant\.acme\.r.*nested quantifiers/);
    expect(make([{ regex: '(\\w)\\1' }])).toThrow(/backreferences/);
    expect(make([{ regex: 'a', flags: 'y' }])).toThrow(/unsupported regex flags/);
    expect(make([])).toThrow(/no patterns/);
    expect(make(['  '])).toThrow(/empty keyword/);
  });
});

describe('unsafeRegexReason', () => {
  it('flags nested quantifiers and backreferences, not ordinary patterns', () => {
    for (const bad of ['(a+)+', '(a*b?)*', '((ab)+c)+', '(x+){2,}', '(?:\\d+\\s)*$', '(?<q>a)\\k<q>']) {
      expect(unsafeRegexReason(bad), bad).toBeDefined();
    }
    for (const ok of ['\\d{3}-\\d{2}', '(ab)+', '[(+)]+', '(colou?r)s*', 'a{2}(b{3})+', '\\(a+\\)+', '(a+){1}']) {
      expect(unsafeRegexReason(ok), ok).toBeUndefined();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { checkText } from './check.js';
import { createOutputGuard, type OutputGuard, type OutputStep } from './output-guard.js';
import { compilePolicy, parsePolicyDocument } from './policy-document.js';
import { DEFAULT_POLICY } from './policy-set.js';

const policy = (output: Record<string, unknown>) => compilePolicy(parsePolicyDocument({ version: 'out-1', output: { check: true, ...output } }));
const SECRET_BLOCKING = policy({ actions: { secret: 'block' } });

/** Feeds chunks and collects what would be forwarded, stopping at a block as a relay does. */
function stream(guard: OutputGuard, chunks: readonly string[]): { text: string; blocked: boolean; steps: OutputStep[] } {
  let text = '';
  const steps: OutputStep[] = [];
  for (const c of chunks) {
    const s = guard.push(c);
    steps.push(s);
    if (s.action === 'block') return { text, blocked: true, steps };
    text += s.text;
  }
  const last = guard.end();
  steps.push(last);
  return { text: text + (last.action === 'block' ? '' : last.text), blocked: last.action === 'block', steps };
}

/** Deterministic chunking into 1 to `max` characters, like token streams of varying length. */
function chunked(text: string, seed: number, max = 12): string[] {
  let x = seed;
  const out: string[] = [];
  for (let i = 0; i < text.length;) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    const n = 1 + (x % max);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

const pieces = (secret: string, n = 8) => Array.from({ length: secret.length - n + 1 }, (_, i) => secret.slice(i, i + n));

describe('createOutputGuard', () => {
  it('passes chunks through unscanned when the tenant does not check output', () => {
    const guard = createOutputGuard(DEFAULT_POLICY);
    expect(guard.enabled).toBe(false);
    expect(guard.push('AKIAIOSFODNN7EXAMPLE')).toEqual({ action: 'allow', text: 'AKIAIOSFODNN7EXAMPLE', categories: [], ruleIds: [] });
    expect(guard.end().text).toBe('');
  });

  it('blocks a key split at any point, before any of it is forwarded', () => {
    const key = 'ghp_0123456789abcdefghijABCDEFGHIJ012345';
    const output = `Sure. Use the token ${key} in the header.`;
    for (let i = 1; i < output.length; i++) {
      const r = stream(createOutputGuard(SECRET_BLOCKING), [output.slice(0, i), output.slice(i)]);
      expect(r.blocked, `split at ${i}`).toBe(true);
      for (const p of pieces(key)) expect(r.text, `split at ${i}`).not.toContain(p);
    }
  });

  it('still ends the stream on a split key with no hold-back, though its start went out', () => {
    const guard = createOutputGuard(policy({ actions: { secret: 'block' }, holdBackChars: 0 }));
    expect(guard.push('the key is AKIAIOSFOD').text).toBe('the key is AKIAIOSFOD');
    const s = guard.push('NN7EXAMPLE and more');
    expect(s).toEqual({ action: 'block', text: '', categories: ['secret'], ruleIds: ['secret.api_key'] });
    expect(guard.push(' later text').action).toBe('block');
    expect(guard.summary()).toMatchObject({ action: 'block', blockedBy: ['secret'], matchCounts: { secret: 1 } });
  });

  it('redacts split PII exactly as a check of the whole output would, however it is chunked', () => {
    const p = policy({});
    const output =
      'Here is the customer record you asked for. Name: Jane Roe, email jane.roe+billing@example.co.uk, phone +44 20 7946 0958, ' +
      'card 4242 4242 4242 4242 and IBAN GB82 WEST 1234 5698 7654 32. Server 10.20.30.40 handled it. Anything else? '.repeat(2);
    const whole = checkText(output, p, 'output');
    expect(whole.action).toBe('redact');
    for (let seed = 1; seed <= 40; seed++) {
      const guard = createOutputGuard(p);
      const r = stream(guard, chunked(output, seed));
      expect(r.text, `seed ${seed}`).toBe(whole.redactedText);
      expect(guard.summary().matchCounts, `seed ${seed}`).toEqual(whole.matchCounts);
    }
  });

  it('releases clean output as it comes, less the hold-back', () => {
    const guard = createOutputGuard(policy({ holdBackChars: 4 }));
    expect(guard.push('Hello ').text).toBe('He');
    expect(guard.push('world, ').text).toBe('llo wor');
    expect(guard.end()).toEqual({ action: 'allow', text: 'ld, ', categories: [], ruleIds: [] });
    expect(guard.summary()).toMatchObject({ action: 'allow', categories: [], checkedChars: 13 });
  });

  it('holds a match that may still grow even with no hold-back', () => {
    const guard = createOutputGuard(policy({ holdBackChars: 0 }));
    expect(guard.push('write to bob@example.co').text).toBe('write to ');
    expect(guard.push('m today').text).toBe('[REDACTED:email] today');
  });

  it('releases an endless token once it passes the pending limit, redacted', () => {
    const guard = createOutputGuard(policy({}), { maxPendingChars: 64 });
    const token = 'Zq8vN2pL7xRt4sK9wB3mY6cD1fG5hJ0a';
    const forwarded = [guard.push(token), guard.push(token), guard.push(token)].map((s) => s.text).join('');
    expect(forwarded).toBe('[REDACTED:secret]');
  });

  it('refuses to be used after the end', () => {
    const guard = createOutputGuard(policy({}));
    guard.end();
    expect(() => guard.push('x')).toThrow(/after end/);
  });
});

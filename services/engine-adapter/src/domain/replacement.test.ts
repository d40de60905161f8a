import { testRequestSpec } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { mayReplace } from './replacement.js';

describe('placing a failed request elsewhere', () => {
  it('only before its first token, once, and within its deadline', () => {
    const r = testRequestSpec('r1', { deadlineUnixMs: 10_000 });
    expect(mayReplace(r, 0, 5_000)).toBe(true);
    expect(mayReplace(r, 1, 5_000)).toBe(false);
    expect(mayReplace({ ...r, replacedFrom: 'vllm-a' }, 0, 5_000)).toBe(false);
    expect(mayReplace(r, 0, 10_000)).toBe(false);
    expect(mayReplace({ ...r, deadlineUnixMs: 0 }, 0, 1e15)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { CALLER_DEADLINE_SKEW_MS, leftAtDeadline } from './caller-deadline.js';

describe('leftAtDeadline', () => {
  const deadline = 10_000;
  it('reads a caller leaving just before our deadline as its deadline firing', () => {
    expect(leftAtDeadline(deadline, deadline - 3)).toBe(true);
    expect(leftAtDeadline(deadline, deadline - CALLER_DEADLINE_SKEW_MS)).toBe(true);
    expect(leftAtDeadline(deadline, deadline + 10)).toBe(true);
  });
  it('reads an earlier leave as a cancel', () => {
    expect(leftAtDeadline(deadline, deadline - CALLER_DEADLINE_SKEW_MS - 1)).toBe(false);
    expect(leftAtDeadline(deadline, 0)).toBe(false);
  });
  it('a call without a deadline is always cancelled', () => {
    expect(leftAtDeadline(0, 123)).toBe(false);
  });
});

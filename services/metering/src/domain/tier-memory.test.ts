import { describe, expect, it } from 'vitest';
import { createTierMemory } from './tier-memory.js';

describe('tier memory', () => {
  it('answers the tier of a remembered request once, and forgets the oldest beyond capacity', () => {
    const m = createTierMemory(2);
    m.remember('a', 'realtime');
    m.remember('b', 'batch');
    m.remember('c', 'internal');
    expect(m.take('a')).toBe('unknown');
    expect(m.take('b')).toBe('batch');
    expect(m.take('b')).toBe('unknown');
    expect(m.size).toBe(1);
  });
});

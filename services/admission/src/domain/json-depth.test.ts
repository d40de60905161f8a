import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';

const arrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const objects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('nestsDeeperThan', () => {
  it('counts arrays and objects alike, up to the limit and one past it', () => {
    expect(nestsDeeperThan(arrays(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestsDeeperThan(arrays(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan(objects(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestsDeeperThan(`[${objects(MAX_JSON_DEPTH)}]`, MAX_JSON_DEPTH)).toBe(true);
  });

  it('measures depth, not how many containers there are', () => {
    expect(nestsDeeperThan(`[${'[],'.repeat(10_000)}[]]`, 2)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan(JSON.stringify({ content: '['.repeat(1_000) }), 2)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ content: `say \\"${'{'.repeat(100)}\\"` }), 2)).toBe(false);
    expect(nestsDeeperThan(`{"a":"\\\\"}`, 1)).toBe(false);
  });

  it('finds 100,000 nested arrays in a few milliseconds, without recursing', () => {
    const started = performance.now();
    expect(nestsDeeperThan(arrays(100_000), MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan(`{"x":${arrays(50)}}`, MAX_JSON_DEPTH)).toBe(false);
    expect(performance.now() - started).toBeLessThan(50);
  });
});

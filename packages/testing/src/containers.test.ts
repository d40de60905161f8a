import { describe, expect, it } from 'vitest';
import { hasBinary } from './containers.js';

describe('hasBinary', () => {
  it('finds executables on PATH and not names that are not there', () => {
    expect(hasBinary('sh', '/usr/bin:/bin')).toBe(true);
    expect(hasBinary('definitely-not-a-server-binary', '/usr/bin:/bin')).toBe(false);
    expect(hasBinary('/bin/sh')).toBe(true);
  });
});

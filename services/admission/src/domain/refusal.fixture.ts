import { expect } from 'vitest';

/** The error `f` throws, for matching its code and message; fails the test when it throws none. */
export const refusal = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return expect.fail('expected a refusal');
};

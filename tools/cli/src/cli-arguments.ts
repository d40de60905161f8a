import { InvalidArgumentError } from 'commander';

/** Parsers of command-line values shared by the commands; each names what it expected. */

/** 0, 1, 2, ... (ports, counts that may be 0). */
export const wholeOrZero = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
};

/** 1, 2, 3, ... */
export const wholeAtLeastOne = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
};

/** Any finite number above 0 (speeds, multipliers). */
export const aboveZero = (value: string): number => {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number above 0');
  return n;
};

/** A moment, as Date.parse reads it; Unix ms. */
export const instant = (value: string): number => {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('expected a time, e.g. 2030-01-31T14:00Z');
  return ms;
};

const WORDS = [
  'the',
  'switchyard',
  'routes',
  'every',
  'request',
  'to',
  'a',
  'pool',
  'of',
  'GPUs',
  'that',
  'can',
  'serve',
  'it',
  'within',
  'its',
  'deadline',
  'and',
  'tokens',
  'flow',
  'back',
  'while',
  'metering',
  'counts',
  'them',
  'for',
  'billing',
  'so',
  'nothing',
  'is',
  'lost',
  'or',
  'paid',
  'twice',
] as const;

/** 32-bit mix (splitmix-style) so neighbouring seeds give unrelated words. */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The simulated model's output token at `index` for a request seed: deterministic, so a
 * retried attempt reproduces the text already streamed and the relay can resume it.
 */
export function tokenText(seed: number, index: number): string {
  const word = WORDS[mix((seed >>> 0) ^ mix(index + 1)) % WORDS.length]!;
  return index === 0 ? word : ` ${word}`;
}

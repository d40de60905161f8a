/**
 * Why a tenant regex is unsafe to run on untrusted text, or `undefined` when it is not
 * obviously so. JavaScript regexes backtrack, so a quantified group that itself contains a
 * quantifier (`(a+)+`, `(\w*\s?)*`) can take exponential time on a crafted prompt, and a
 * backreference defeats any linear bound. The check is syntactic and catches these common
 * forms; it does not prove a pattern safe (overlapping alternations such as `(a|aa)+`
 * pass), which is why tenant patterns also get a length limit.
 */
export function unsafeRegexReason(source: string): string | undefined {
  // One entry per open group: whether something inside it is quantified.
  const groups: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && (/[1-9]/.test(next) || (next === 'k' && source[i + 2] === '<'))) return 'backreferences are not allowed';
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === '(') groups.push(false);
    else if (ch === ')') {
      const inner = groups.pop() ?? false;
      const quantified = isQuantifier(source, i + 1);
      if (inner && quantified) return 'nested quantifiers can backtrack exponentially';
      if ((inner || quantified) && groups.length > 0) groups[groups.length - 1] = true;
    } else if (isQuantifier(source, i) && groups.length > 0) {
      groups[groups.length - 1] = true;
    }
  }
  return undefined;
}

function isQuantifier(source: string, i: number): boolean {
  const ch = source[i];
  if (ch === '*' || ch === '+') return true;
  // `?` after `(` is group syntax, not a quantifier; a bounded `{n}` never repeats more
  // than n times but `{n,}` and `{n,m}` with m > 1 do.
  if (ch === '{') return /^\{\d+,\d*\}/.test(source.slice(i, i + 12)) && !/^\{\d+,[01]\}/.test(source.slice(i, i + 12));
  return false;
}

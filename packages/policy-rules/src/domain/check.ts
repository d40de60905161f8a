import { categorizedMatches, redact, scan, type Category } from './detectors/index.js';
import { actionFor, stricter, type PolicySet, type RuleAction, type RuleSet } from './policy-set.js';

/** What the text is: a prompt on its way in, or generated output on its way out. */
export type CheckTarget = 'prompt' | 'output';

export interface CheckVerdict {
  readonly action: RuleAction;
  /** The text with redacted spans replaced; the input itself when nothing was redacted. */
  readonly redactedText: string;
  readonly categories: Category[];
  readonly ruleIds: string[];
  /** Matches per category: what telemetry carries instead of the matched text. */
  readonly matchCounts: Partial<Record<Category, number>>;
  /** Categories that fired with action `block`, for the block-rate metric. */
  readonly blockedBy: Category[];
  readonly policyVersion: string;
}

/**
 * Scans a text under a rule set. The strictest action of any rule that fired wins; spans
 * of categories whose action is "redact" are replaced, the others left as they are.
 */
export function checkRules(text: string, rules: RuleSet, policyVersion: string): CheckVerdict {
  const findings = scan(text, rules.detectors);
  let action: RuleAction = 'allow';
  const matchCounts: Partial<Record<Category, number>> = {};
  const blockedBy = new Set<Category>();
  const toRedact = findings.filter((f) => {
    const a = actionFor(rules, f.category);
    action = stricter(action, a);
    matchCounts[f.category] = (matchCounts[f.category] ?? 0) + f.matches.length;
    if (a === 'block') blockedBy.add(f.category);
    return a === 'redact';
  });
  return {
    action,
    redactedText: toRedact.length > 0 ? redact(text, categorizedMatches(toRedact)) : text,
    categories: Object.keys(matchCounts) as Category[],
    ruleIds: findings.map((f) => f.id),
    matchCounts,
    blockedBy: [...blockedBy],
    policyVersion,
  };
}

/**
 * Checks a prompt, or a whole generated output, under a tenant's policy. Output of a
 * tenant without output checks passes unscanned.
 */
export function checkText(text: string, policy: PolicySet, target: CheckTarget = 'prompt'): CheckVerdict {
  if (target === 'prompt') return checkRules(text, policy, policy.version);
  if (policy.output === undefined) {
    return { action: 'allow', redactedText: text, categories: [], ruleIds: [], matchCounts: {}, blockedBy: [], policyVersion: policy.version };
  }
  return checkRules(text, policy.output, policy.version);
}

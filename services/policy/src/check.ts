import { categorizedMatches, redact, scan } from './detectors/index.js';
import type { PolicySet, RuleAction } from './policy-set.js';

export interface CheckVerdict {
  readonly action: RuleAction;
  /** The text with redacted spans replaced; the input itself when nothing was redacted. */
  readonly redactedText: string;
  readonly categories: string[];
  readonly ruleIds: string[];
  readonly policyVersion: string;
}

const severity: Record<RuleAction, number> = { allow: 0, redact: 1, block: 2 };

/**
 * Scans a text under a policy set. The strictest action of any rule that fired wins; spans
 * of categories whose action is "redact" are replaced, the others left as they are.
 */
export function checkText(text: string, policy: PolicySet): CheckVerdict {
  const findings = scan(text, policy.detectors);
  let action: RuleAction = 'allow';
  const toRedact = findings.filter((f) => {
    const a = policy.actions[f.category] ?? policy.defaultAction;
    if (severity[a] > severity[action]) action = a;
    return a === 'redact';
  });
  return {
    action,
    redactedText: toRedact.length > 0 ? redact(text, categorizedMatches(toRedact)) : text,
    categories: [...new Set(findings.map((f) => f.category))],
    ruleIds: findings.map((f) => f.id),
    policyVersion: policy.version,
  };
}

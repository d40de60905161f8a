import { candidate, makeEvent, type Event } from '@switchyard/contracts';
import type { CheckTarget } from './check.js';
import type { Category } from './detectors/index.js';
import { actionFor, type RuleAction, type RuleSet } from './policy-set.js';

/** The parts of a verdict a decision event carries: labels and counts, never text. */
export interface DecisionFacts {
  readonly action: RuleAction;
  readonly categories: readonly Category[];
  readonly ruleIds: readonly string[];
  readonly matchCounts: Readonly<Partial<Record<Category, number>>>;
  readonly policyVersion: string;
}

export interface PolicyDecisionInput {
  readonly tenant: string;
  readonly requestId: string;
  readonly target: CheckTarget;
  readonly facts: DecisionFacts;
  /** The rules that decided, to name each category's action. */
  readonly rules: RuleSet;
  readonly latencyMs: number;
  readonly nowMs: number;
  /** The check's trace; default none. */
  readonly traceparent?: string;
}

/**
 * The `decisions.policy.<tenant>` event of one check. Each category found is one
 * candidate: `id` the category, `score` its number of matches, `reason` the action it
 * took. The id holds the target, so the prompt and the output decision of one request
 * are both kept while a retried publish of either is de-duplicated.
 */
export function policyDecisionEvent(input: PolicyDecisionInput): Event {
  const { facts, tenant, requestId, target } = input;
  const candidates = facts.categories.map((c) => candidate({ id: c, score: facts.matchCounts[c] ?? 0, reason: actionFor(input.rules, c) }));
  return makeEvent(
    { id: `decision-policy-${requestId}-${target}`, tenant, requestId, nowMs: input.nowMs, traceparent: input.traceparent },
    {
      $case: 'decision',
      decision: {
        service: 'policy',
        action: facts.action,
        reason: `${target} check`,
        chosen: '',
        candidates,
        categories: [...facts.categories],
        ruleIds: [...facts.ruleIds],
        policyVersion: facts.policyVersion,
        latencyMs: input.latencyMs,
        user: '',
      },
    },
  );
}

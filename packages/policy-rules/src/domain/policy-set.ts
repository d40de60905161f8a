import { builtinDetectors, type Category, type Detector } from './detectors/index.js';

export type RuleAction = 'allow' | 'redact' | 'block';

/** Which detectors run over a text and what happens to each category they find. */
export interface RuleSet {
  readonly detectors: readonly Detector[];
  readonly actions: Readonly<Partial<Record<Category, RuleAction>>>;
  /** Used for categories the actions table does not name. */
  readonly defaultAction: RuleAction;
}

/** The rules for generated output, applied chunk by chunk by the output guard. */
export interface OutputRules extends RuleSet {
  /**
   * Characters of output held back before they are released, so that a secret or an
   * address split across chunks is caught (and redacted or blocked) before any of it
   * reaches the caller. 0 releases every chunk at once: a split match is still caught and
   * still ends the stream, but its first part has already gone out.
   */
  readonly holdBackChars: number;
}

/** A tenant's compiled policy: what a check runs, built once per stored version. */
export interface PolicySet extends RuleSet {
  /** Recorded on every decision; `default-v1` for the built-in default. */
  readonly version: string;
  /** Output rules; undefined when the tenant does not have its output checked. */
  readonly output?: OutputRules;
}

/** Default actions: redact personal data and secrets, block injections and blocked topics. */
export const DEFAULT_ACTIONS: Readonly<Partial<Record<Category, RuleAction>>> = { injection: 'block', blocked_topic: 'block' };

/** Default of `OutputRules.holdBackChars`: long enough for cards, IBANs, SSNs, phones and most keys. */
export const DEFAULT_HOLD_BACK_CHARS = 32;

/** The policy of a tenant that has none stored: every built-in detector, default actions, output unchecked. */
export const DEFAULT_POLICY: PolicySet = {
  version: 'default-v1',
  detectors: builtinDetectors,
  actions: DEFAULT_ACTIONS,
  defaultAction: 'redact',
};

const severity: Record<RuleAction, number> = { allow: 0, redact: 1, block: 2 };

/** The stricter of two actions. */
export const stricter = (a: RuleAction, b: RuleAction): RuleAction => (severity[b] > severity[a] ? b : a);

/** What a rule set does with a category. */
export const actionFor = (rules: RuleSet, category: Category): RuleAction => rules.actions[category] ?? rules.defaultAction;

import { builtinDetectors, type Category, type Detector } from './detectors/index.js';

export type RuleAction = 'allow' | 'redact' | 'block';

/** What a tenant's policy runs and does with each category. */
export interface PolicySet {
  readonly version: string;
  readonly detectors: readonly Detector[];
  readonly actions: Readonly<Partial<Record<Category, RuleAction>>>;
  /** Used for categories the actions table does not name. */
  readonly defaultAction: RuleAction;
}

/** Redact personal data and secrets; block injection attempts and blocked topics. */
export const DEFAULT_POLICY: PolicySet = {
  version: 'default-v1',
  detectors: builtinDetectors,
  actions: { injection: 'block', blocked_topic: 'block' },
  defaultAction: 'redact',
};

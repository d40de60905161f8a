import { z } from '@switchyard/config';
import { DomainError } from '@switchyard/contracts';
import { builtinDetectors, categories, createPatternDetector, MAX_PATTERN_LENGTH, type Category, type Detector } from './detectors/index.js';
import { DEFAULT_ACTIONS, DEFAULT_HOLD_BACK_CHARS, type PolicySet, type RuleAction } from './policy-set.js';

/** A detector is chosen by its category (`secret`: all four secret detectors) or its rule id. */
const SELECTORS = [...new Set(builtinDetectors.flatMap((d) => [d.category, d.id]))] as [string, ...string[]];

/** Most tenant regular expressions in one policy: each is one more pass over every prompt. */
export const MAX_TENANT_REGEXES = 32;

const action = z.enum(['allow', 'redact', 'block']);
const actionTable = z.partialRecord(z.enum(Object.values(categories) as [Category, ...Category[]]), action);
const selectors = z.array(z.enum(SELECTORS, { error: () => `unknown detector: use a category or a rule id (${SELECTORS.join(', ')})` }));
const pattern = z.union([
  z.string().trim().min(1).max(MAX_PATTERN_LENGTH),
  z
    .object({
      regex: z.string().min(1).max(MAX_PATTERN_LENGTH),
      flags: z
        .string()
        .regex(/^[imsu]*$/, 'flags may only use i, m, s, u')
        .optional(),
    })
    .strict(),
]);

/**
 * A tenant's policy as stored (JSON) under the tenant's name in the `policies` KV bucket.
 * Everything but `version` is optional; what is left out behaves as the default policy.
 */
export const policyDocumentSchema = z
  .object({
    /** Recorded on every decision. Change it with every edit. */
    version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'version: 1 to 64 letters, digits, ".", "_", ":" or "-"'),
    description: z.string().max(500).optional(),
    /** Built-in detectors that run, by category or rule id. Default: all of them. */
    detectors: selectors.optional(),
    /** Action per category, over the defaults (injection and blocked_topic: block). */
    actions: actionTable.optional(),
    /** Action of categories neither table names. Default `redact`. */
    defaultAction: action.optional(),
    /** Keywords (case-insensitive, on word boundaries) and regexes; category `blocked_topic`. */
    blockedTopics: z.array(pattern).max(1_000).optional(),
    /** Named tenant rules; category `custom`, rule id `tenant.custom.<id>`. */
    customPatterns: z
      .array(
        z.object({ id: z.string().regex(/^[a-z0-9_-]{1,40}$/, 'id: 1 to 40 of a-z, 0-9, "_" or "-"'), patterns: z.array(pattern).min(1).max(1_000) }).strict(),
      )
      .max(50)
      .optional(),
    output: z
      .object({
        /** Whether generated output is checked at all. */
        check: z.boolean(),
        /** Default: the prompt's detectors. Tenant patterns always apply. */
        detectors: selectors.optional(),
        /** Over the prompt's actions, in which injection is `allow` for output. */
        actions: actionTable.optional(),
        defaultAction: action.optional(),
        /** Default 32. */
        holdBackChars: z.number().int().min(0).max(1_024).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type PolicyDocument = z.infer<typeof policyDocumentSchema>;

const invalid = (message: string, cause?: unknown) => new DomainError('INVALID_ARGUMENT', `invalid policy: ${message}`, { cause });

/** Validates a parsed JSON value; the error lists every problem with its path. */
export function parsePolicyDocument(value: unknown): PolicyDocument {
  const parsed = policyDocumentSchema.safeParse(value);
  if (!parsed.success) {
    throw invalid(parsed.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`).join('; '), parsed.error);
  }
  return parsed.data;
}

const select = (chosen: readonly string[] | undefined): Detector[] =>
  chosen === undefined ? [...builtinDetectors] : builtinDetectors.filter((d) => chosen.includes(d.category) || chosen.includes(d.id));

function tenantDetectors(doc: PolicyDocument): Detector[] {
  const all = [...(doc.blockedTopics ?? []), ...(doc.customPatterns ?? []).flatMap((c) => c.patterns)];
  const regexes = all.filter((p) => typeof p !== 'string').length;
  if (regexes > MAX_TENANT_REGEXES) throw invalid(`${regexes} regular expressions, at most ${MAX_TENANT_REGEXES} (keywords are not limited)`);
  const out: Detector[] = [];
  try {
    if (doc.blockedTopics?.length) out.push(createPatternDetector({ id: 'tenant.blocked_topic', category: 'blocked_topic', patterns: doc.blockedTopics }));
    for (const c of doc.customPatterns ?? []) out.push(createPatternDetector({ id: `tenant.custom.${c.id}`, category: 'custom', patterns: c.patterns }));
  } catch (e) {
    throw invalid((e as Error).message, e);
  }
  return out;
}

/**
 * Builds what checks run from a validated document: done once per stored version, so a
 * request only looks the result up. Throws `INVALID_ARGUMENT` for a pattern that does not
 * compile or is unsafe on untrusted text.
 */
export function compilePolicy(doc: PolicyDocument): PolicySet {
  const tenant = tenantDetectors(doc);
  const actions: Partial<Record<Category, RuleAction>> = { ...DEFAULT_ACTIONS, ...doc.actions };
  const defaultAction = doc.defaultAction ?? 'redact';
  const policy: PolicySet = { version: doc.version, detectors: [...select(doc.detectors), ...tenant], actions, defaultAction };
  if (!doc.output?.check) return policy;
  const outputActions: Partial<Record<Category, RuleAction>> = { ...actions, injection: 'allow', ...doc.output.actions };
  const outputDefault = doc.output.defaultAction ?? defaultAction;
  // A category the output lets through needs no scanning on the per-chunk path.
  const detectors = [...select(doc.output.detectors ?? doc.detectors), ...tenant].filter((d) => (outputActions[d.category] ?? outputDefault) !== 'allow');
  return {
    ...policy,
    output: { detectors, actions: outputActions, defaultAction: outputDefault, holdBackChars: doc.output.holdBackChars ?? DEFAULT_HOLD_BACK_CHARS },
  };
}

/** Parses, validates and compiles a stored policy in one step. */
export function policyFromJson(json: string): { document: PolicyDocument; policy: PolicySet } {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw invalid(`not JSON (${(e as Error).message})`, e);
  }
  const document = parsePolicyDocument(value);
  return { document, policy: compilePolicy(document) };
}

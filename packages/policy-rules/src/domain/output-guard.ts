import { redact, scan, type CategorizedMatch, type Category } from './detectors/index.js';
import { actionFor, stricter, type PolicySet, type RuleAction } from './policy-set.js';

export interface OutputGuardOptions {
  /**
   * Characters of already released output kept as left context, so a match that began in
   * an earlier chunk is still found whole. Default 128: longer than any card, IBAN, phone
   * number, PEM header or common provider key (each chunk rescans it, so it is the cost).
   */
  readonly contextChars?: number;
  /**
   * Most characters held back while a possible match keeps growing (a long token); past it
   * the held text is released, with what matched redacted. Default 4096.
   */
  readonly maxPendingChars?: number;
}

/** What to do after one chunk. */
export interface OutputStep {
  /**
   * `block`: end the stream now and forward nothing more, `text` included. `redact`: `text`
   * had spans replaced. `allow`: `text` is the output as generated.
   */
  readonly action: RuleAction;
  /** Output safe to forward now; empty while a possible match is held back. */
  readonly text: string;
  /** Categories of matches completed in this step; never the matched text. */
  readonly categories: readonly Category[];
  readonly ruleIds: readonly string[];
}

/** Totals of one stream, for its decision event (counts only). */
export interface OutputSummary {
  /** The strictest action taken on the stream. */
  readonly action: RuleAction;
  readonly categories: Category[];
  readonly ruleIds: string[];
  readonly matchCounts: Partial<Record<Category, number>>;
  readonly blockedBy: Category[];
  readonly policyVersion: string;
  /** Characters of output scanned. */
  readonly checkedChars: number;
}

export interface OutputGuard {
  /** False when the tenant's policy does not check output: chunks pass as they are, unscanned. */
  readonly enabled: boolean;
  /** Checks the next chunk of output. After a `block`, every call answers `block` again. */
  push(chunk: string): OutputStep;
  /** The output is complete: checks and releases what was held back. */
  end(): OutputStep;
  summary(): OutputSummary;
}

const NONE: readonly never[] = [];

interface Live extends CategorizedMatch {
  readonly id: string;
  readonly action: RuleAction;
}

/**
 * A streaming checker for one generated output under the tenant's output rules. It keeps
 * the tail of released output as context and holds back the last `holdBackChars`
 * characters (and any match that may still grow), so a secret split across chunks is
 * caught before its first part leaves: a `block` rule ends the stream, a `redact` rule
 * replaces the span. Pure and synchronous; one guard per stream. Each chunk costs one scan
 * of context plus held text (under 200 characters, ~7 us here), whatever the output's length.
 */
export function createOutputGuard(policy: PolicySet, options: OutputGuardOptions = {}): OutputGuard {
  const rules = policy.output;
  const contextChars = options.contextChars ?? 128;
  const maxPending = options.maxPendingChars ?? 4_096;
  let context = '';
  let pending = '';
  let blocked = false;
  let ended = false;
  let action: RuleAction = 'allow';
  let checkedChars = 0;
  const counts: Partial<Record<Category, number>> = {};
  const ruleIds = new Set<string>();
  const blockedBy = new Set<Category>();

  const blockStep = (categories: readonly Category[] = NONE, ids: readonly string[] = NONE): OutputStep => ({
    action: 'block',
    text: '',
    categories,
    ruleIds: ids,
  });

  const record = (fired: readonly Live[]): { categories: Category[]; ruleIds: string[] } => {
    for (const m of fired) {
      counts[m.category] = (counts[m.category] ?? 0) + 1;
      ruleIds.add(m.id);
      if (m.action === 'block') blockedBy.add(m.category);
    }
    return { categories: [...new Set(fired.map((m) => m.category))], ruleIds: [...new Set(fired.map((m) => m.id))] };
  };

  const step = (final: boolean): OutputStep => {
    if (rules === undefined) throw new Error('unreachable: a disabled guard never scans');
    const buffer = context + pending;
    const offset = context.length;
    const live: Live[] = [];
    for (const f of scan(buffer, rules.detectors)) {
      const a = actionFor(rules, f.category);
      // Matches that ended inside the context were released and counted in an earlier step.
      for (const m of f.matches) if (m.end > offset) live.push({ start: m.start, end: m.end, category: f.category, id: f.id, action: a });
    }
    const blockers = live.filter((m) => m.action === 'block');
    if (blockers.length > 0) {
      blocked = true;
      action = 'block';
      pending = '';
      context = '';
      const fired = record(blockers);
      return blockStep(fired.categories, fired.ruleIds);
    }

    const forced = final || pending.length > maxPending;
    let cut = forced ? buffer.length : Math.max(offset, buffer.length - rules.holdBackChars);
    // Hold back any redactable match that crosses the cut or reaches the end of what has
    // arrived (it may grow with the next chunk), so none of it leaves unredacted.
    if (!forced) {
      for (const m of live) if (m.action === 'redact' && (m.end > cut || m.end === buffer.length)) cut = Math.min(cut, Math.max(offset, m.start));
    }
    const done = live.filter((m) => m.end <= cut);
    const spans: CategorizedMatch[] = [];
    for (const m of done) if (m.action === 'redact') spans.push({ start: Math.max(m.start, offset) - offset, end: m.end - offset, category: m.category });
    const released = buffer.slice(offset, cut);
    context = buffer.slice(Math.max(0, cut - contextChars), cut);
    pending = buffer.slice(cut);
    const fired = record(done);
    const stepAction: RuleAction = spans.length > 0 ? 'redact' : 'allow';
    action = stricter(action, stepAction);
    return { action: stepAction, text: spans.length > 0 ? redact(released, spans) : released, categories: fired.categories, ruleIds: fired.ruleIds };
  };

  return {
    enabled: rules !== undefined,
    push(chunk) {
      if (ended) throw new Error('output guard: push after end');
      if (blocked) return blockStep();
      if (rules === undefined) return { action: 'allow', text: chunk, categories: NONE, ruleIds: NONE };
      checkedChars += chunk.length;
      pending += chunk;
      return step(false);
    },
    end() {
      if (ended) throw new Error('output guard: end called twice');
      ended = true;
      if (blocked) return blockStep();
      if (rules === undefined || pending.length === 0) return { action: 'allow', text: '', categories: NONE, ruleIds: NONE };
      return step(true);
    },
    summary: () => ({
      action,
      categories: Object.keys(counts) as Category[],
      ruleIds: [...ruleIds],
      matchCounts: { ...counts },
      blockedBy: [...blockedBy],
      policyVersion: policy.version,
      checkedChars,
    }),
  };
}

import type { Detector, Match } from './types.js';

// Words and separators are disjoint classes, so "up to n words between" is a bounded,
// unambiguous repetition. Separators stop at sentence ends: a phrase never spans two
// sentences. Letters are ASCII plus Latin-1/Latin Extended rather than \p{L}: the `u`
// flag together with `i` makes these patterns about ten times slower in V8.
const L = String.raw`A-Za-z0-9_'’\u00C0-\u024F`;
const W = String.raw`[${L}]+`;
const S = String.raw`[^${L}.!?\n]{1,6}`;
const gap = (n: number): string => String.raw`${S}(?:${W}${S}){0,${n}}`;

// "override" and "bypass" are everyday words in code ("override the previous CSS rules"),
// so they only count when aimed at the model's own rules ("bypass your restrictions").
const IGNORE = String.raw`(?:ignore|ignoring|disregard|disregarding|forget|forgetting|neglect|discard|abandon|set aside|throw out|stop following|do not follow|don'?t follow|no longer follow|pay no attention to|do not obey|don'?t obey|stop obeying)`;
const OVERRIDE = String.raw`(?:override|overriding|bypass|bypassing|circumvent|get around)`;
const WHICH = String.raw`(?:previous|previously|prior|above|earlier|preceding|foregoing|original|initial|system|former|existing|developer|all|any|every|your)`;
const WHAT = String.raw`(?:instructions?|prompts?|rules|directives?|guidelines|guidance|commands|directions|context|constraints|programming|restrictions|polic(?:y|ies)|training|safeguards|guardrails|filters)`;

const ROLE = String.raw`(?:you are|you're|you will be|act as|acting as|pretend to be|play the role of|become|roleplay as|role-play as|respond as|answer as)`;
const ROGUE = String.raw`(?:evil|unfiltered|uncensored|unrestricted|amoral|jailbroken|unaligned|rogue|unlimited|unbound|unchained)`;
const FREE = String.raw`(?:without (?:any )?(?:restrictions|filters|censorship|limits|limitations|rules|guidelines|ethics|morals)|no (?:restrictions|filters|rules|limits|limitations|guidelines|ethics|morals|content polic(?:y|ies))|unfiltered|uncensored|unrestricted)`;

const LEAK_VERB = String.raw`(?:reveal|show|print|display|output|repeat|recite|leak|share|dump|tell|give|write out|type out|spell out|expose|disclose|paste|what (?:is|are|was|were))`;
const LEAK_ADJ = String.raw`(?:full|entire|complete|exact|original|hidden|initial|secret|internal|confidential|underlying|first|base)`;
const LEAK_WHAT = String.raw`(?:system prompt|system message|system instructions|(?:${LEAK_ADJ} )?(?:prompt|instructions|message|rules|guidelines|directives)|pre-?prompt)`;

/**
 * One case-insensitive regex per family, plus an optional case-sensitive one for names
 * that are ordinary words in lower case ("DAN" the jailbreak, "Dan" the colleague).
 */
const compile = (sources: readonly string[], caseSensitive: readonly string[] = []): readonly RegExp[] => {
  const join = (list: readonly string[]): string => list.map((s) => `(?:${s})`).join('|');
  return caseSensitive.length === 0 ? [new RegExp(join(sources), 'gi')] : [new RegExp(join(sources), 'gi'), new RegExp(join(caseSensitive), 'g')];
};

/** Patterns per family, exposed so the encoded-payload detector can reuse them. */
export const injectionFamilies = {
  /** "Ignore all previous instructions" and its paraphrases. */
  override: compile([
    String.raw`\b${IGNORE}\b${gap(5)}${WHICH}\b${gap(3)}${WHAT}\b`,
    String.raw`\b(?:${IGNORE}|${OVERRIDE})\b${gap(3)}(?:system|developer) (?:messages?|prompts?)\b`,
    String.raw`\b${IGNORE}\b${S}(?:${W}${S}){0,2}(?:everything|whatever|anything|all) (?:that )?(?:you(?:'ve| have)? (?:been |were )?(?:told|taught|instructed|programmed|given)|(?:written |said )?(?:above|before this))`,
    String.raw`\b${IGNORE}\b${gap(2)}${WHAT} (?:above|before this|you were given|you have been given|given to you)\b`,
    String.raw`\b${OVERRIDE}\b${S}(?:all |any )?(?:of )?(?:your|the system(?:'s)?|the AI's|the model's) (?:${W}${S}){0,2}?${WHAT}\b`,
    String.raw`\byou(?:'re| are)? no longer (?:bound|restricted|limited|constrained) by\b`,
    String.raw`\b${IGNORE}\b${S}(?:all of |everything )?the above(?: and| instead|,? (?:then|now))\b`,
    String.raw`\b(?:previous|prior|earlier|original|initial|system|above) (?:instructions|prompts?|directives|programming)(?: (?:are|is|have been))? (?:now )?(?:void|null|cancell?ed|revoked|obsolete|overridden|superseded|no longer (?:valid|apply|applicable|in effect|active))`,
    String.raw`\b(?:new|real) (?:system )?instructions:`,
    // Common non-English forms.
    String.raw`\b(?:ignora|olvida)(?:r)? (?:todas )?(?:las |tus )?instrucciones (?:anteriores|previas)`,
    String.raw`\b(?:ignoriere|vergiss) (?:alle )?(?:vorherigen|bisherigen|obigen) (?:Anweisungen|Instruktionen|Regeln)`,
    String.raw`\b(?:ignore[sz]?|oublie[sz]?) (?:toutes )?(?:les |tes |vos )?instructions (?:précédentes|antérieures)`,
  ]),
  /** "You are now DAN", developer mode and other role-play escapes. */
  rolePlay: compile(
    [
      String.raw`\b${ROLE}(?: now)? (?:an? |the )?${ROGUE}\b${S}(?:${W}${S}){0,3}?(?:AI|assistant|chatbot|model|bot|confidant|version|persona|entity|mode)\b`,
      String.raw`\byou(?:'re| are| will be)? (?:now )?(?:in|running in|operating in|entering|switching to) (?:developer|god|jailbreak|DAN|unrestricted) mode\b`,
      String.raw`\b(?:enable|activate|enter|simulate|emulate) (?:developer|god|jailbreak|DAN) mode\b${S}(?:${W}${S}){0,6}?(?:you|your|ChatGPT|AI|assistant|restrictions|filters|polic(?:y|ies))\b`,
      String.raw`\b(?:developer|jailbreak|DAN) mode (?:enabled|output|response)`,
      String.raw`\b(?:enable|activate|enter|switch to|turn on) (?:DAN|jailbreak|jailbroken) mode\b`,
      String.raw`\byou (?:have been|are now|were|are) (?:freed|liberated|jailbroken|unshackled|released from)\b`,
      String.raw`\bpretend (?:that )?you (?:are|have|were) (?:not bound by|free (?:of|from)|no|not any|without) (?:\w+ ){0,2}(?:restrictions|rules|filters|guidelines|limits|limitations|polic(?:y|ies)|ethics|constraints)`,
      String.raw`\b(?:from now on|for the rest of this conversation|going forward),? you\b[^.!?\n]{0,60}?\b${FREE}`,
    ],
    [
      String.raw`\b(?:[Yy]ou are|[Yy]ou're|[Aa]ct as|[Pp]retend to be|[Bb]ecome|[Rr]espond as|[Aa]nswer as)(?: now)? (?:an? |the )?(?:DAN|STAN|DUDE)\b`,
      String.raw`\b[Dd]o [Aa]nything [Nn]ow\b`,
    ],
  ),
  /** Requests to disclose the system prompt or hidden instructions. */
  promptLeak: compile([
    String.raw`\b${LEAK_VERB}\b(?: me| us)?(?: back)?(?: all| word for word| verbatim)?(?: of)? (?:your|everything in your) (?:${LEAK_ADJ} ){0,2}${LEAK_WHAT}`,
    String.raw`\b${LEAK_VERB}\b(?: me| us)?(?: back)?(?: all of)? the (?:${LEAK_ADJ} ){0,2}(?:system prompt|system message|system instructions|(?:hidden|secret|internal|confidential) (?:prompt|instructions|message)|pre-?prompt|(?:prompt|instructions) (?:you were given|you received|above))`,
    String.raw`\b(?:repeat|print|output|show|reproduce|echo)\b(?: back)? (?:all |everything |the )?(?:words|text|content|everything|lines|instructions|messages)?(?: written)? (?:above|before this (?:line|message|point)|prior to this message)\b`,
    String.raw`\bwhat (?:were|are) (?:you|your) (?:told|instructed|initial instructions|original instructions|hidden instructions)\b(?: (?:before|to do|by (?:your|the) (?:developers?|creators?|system)))`,
    String.raw`\b(?:start|begin) your (?:reply|response|answer) with (?:your|the) ${LEAK_WHAT}`,
  ]),
} as const;

/** Runs one compiled family over `text`. */
export function findFamily(family: readonly RegExp[], text: string): Match[] {
  const out: Match[] = [];
  for (const re of family) for (const m of text.matchAll(re)) out.push({ start: m.index, end: m.index + m[0].length });
  return family.length > 1 ? out.sort((a, b) => a.start - b.start) : out;
}

const family = (id: string, res: readonly RegExp[]): Detector => ({ id, category: 'injection', find: (text) => findFamily(res, text) });

/** "Ignore previous instructions" and paraphrases. Rule id `injection.override`. */
export const overrideInstructionsDetector = family('injection.override', injectionFamilies.override);
/** DAN, developer mode and other jailbreak personas. Rule id `injection.role_play`. */
export const rolePlayDetector = family('injection.role_play', injectionFamilies.rolePlay);
/** Attempts to extract the system prompt. Rule id `injection.prompt_leak`. */
export const promptLeakDetector = family('injection.prompt_leak', injectionFamilies.promptLeak);

/**
 * What a detector looks for. The value is the label that appears in redactions
 * (`[REDACTED:email]`) and in `CheckResponse.categories`.
 */
export const categories = {
  email: 'email',
  phone: 'phone',
  card: 'card',
  ssn: 'ssn',
  iban: 'iban',
  ip: 'ip',
  secret: 'secret',
  injection: 'injection',
  blocked_topic: 'blocked_topic',
  custom: 'custom',
} as const;

export type Category = (typeof categories)[keyof typeof categories];

/**
 * A half-open span `[start, end)` in UTF-16 code units of the scanned text. Matches carry
 * offsets only, so they can be logged or sent as telemetry without leaking what matched.
 */
export interface Match {
  readonly start: number;
  readonly end: number;
}

/** A match that knows its category, as `redact` needs it to choose a label. */
export interface CategorizedMatch extends Match {
  readonly category: Category;
}

/**
 * A pure finder: no I/O, no state between calls, linear in the length of the text.
 * `id` is the rule id reported to callers (e.g. `pii.email`).
 */
export interface Detector {
  readonly id: string;
  readonly category: Category;
  find(text: string): Match[];
}

/**
 * Faults the engine server injects into its OpenAI endpoints, as `POST /admin/faults` takes them
 * (JSON). One kind at a time: `status` answers every call with that HTTP status (and a
 * `retry-after` of `retryAfterS` when given); `cutAfterTokens` streams that many content tokens
 * and then drops the connection; `hang` takes the call and never answers (with no `fraction`,
 * the whole engine stops stepping, as a hung GPU does). `fraction` (default 1) applies the fault
 * to that share of calls only.
 */
export interface HttpFaults {
  readonly status?: number;
  readonly retryAfterS?: number;
  readonly cutAfterTokens?: number;
  readonly hang?: boolean;
  readonly fraction?: number;
}

/** What one call gets. */
export type FaultDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'status'; readonly status: number; readonly retryAfterS: number | undefined }
  | { readonly kind: 'cut'; readonly afterTokens: number }
  | { readonly kind: 'hang' };

const FIELDS = ['status', 'retryAfterS', 'cutAfterTokens', 'hang', 'fraction'] as const;

/** Thrown for a fault description that makes no sense; the message names the field. */
export class FaultSpecError extends Error {
  override readonly name = 'FaultSpecError';
}

/** Validates a fault description (JSON already parsed); throws `FaultSpecError` naming the field. */
export function parseHttpFaults(json: unknown): HttpFaults {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FaultSpecError('faults must be a JSON object');
  const o = json as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(FIELDS as readonly string[]).includes(key)) throw new FaultSpecError(`unknown field "${key}"; use ${FIELDS.join(', ')}`);
  }
  const { status, retryAfterS, cutAfterTokens, hang, fraction } = o;
  if (status !== undefined && !(Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599)) {
    throw new FaultSpecError(`"status" must be an HTTP error status (400..599), got ${JSON.stringify(status)}`);
  }
  if (retryAfterS !== undefined && !(typeof retryAfterS === 'number' && Number.isInteger(retryAfterS) && retryAfterS >= 0)) {
    throw new FaultSpecError(`"retryAfterS" must be a whole number of seconds >= 0, got ${JSON.stringify(retryAfterS)}`);
  }
  if (cutAfterTokens !== undefined && !(typeof cutAfterTokens === 'number' && Number.isInteger(cutAfterTokens) && cutAfterTokens >= 0)) {
    throw new FaultSpecError(`"cutAfterTokens" must be a whole number >= 0, got ${JSON.stringify(cutAfterTokens)}`);
  }
  if (hang !== undefined && typeof hang !== 'boolean') throw new FaultSpecError(`"hang" must be true or false, got ${JSON.stringify(hang)}`);
  if (fraction !== undefined && !(typeof fraction === 'number' && fraction >= 0 && fraction <= 1)) {
    throw new FaultSpecError(`"fraction" must be within 0..1, got ${JSON.stringify(fraction)}`);
  }
  const kinds = [status !== undefined, cutAfterTokens !== undefined, hang === true].filter(Boolean).length;
  if (kinds > 1) throw new FaultSpecError('give one of "status", "cutAfterTokens" and "hang" at a time');
  if (retryAfterS !== undefined && status === undefined) throw new FaultSpecError('"retryAfterS" goes with "status"');
  return o as HttpFaults;
}

/** Whether the whole engine is hung: a hang on every call stops the step loop too. */
export const engineHung = (faults: HttpFaults): boolean => faults.hang === true && (faults.fraction ?? 1) >= 1;

/** The fault one call gets; `draw` is a uniform number in [0, 1) that decides whether it falls in `fraction`. */
export function decideFault(faults: HttpFaults, draw: number): FaultDecision {
  if (draw >= (faults.fraction ?? 1)) return { kind: 'none' };
  if (faults.hang === true) return { kind: 'hang' };
  if (faults.status !== undefined) return { kind: 'status', status: faults.status, retryAfterS: faults.retryAfterS };
  if (faults.cutAfterTokens !== undefined) return { kind: 'cut', afterTokens: faults.cutAfterTokens };
  return { kind: 'none' };
}

/**
 * Output index at which a cut stream of `maxTokens` ends: after `afterTokens` tokens, but always
 * before the last, so a cut stream can never pass for a complete one.
 */
export const cutIndex = (afterTokens: number, maxTokens: number): number => Math.max(0, Math.min(afterTokens, maxTokens - 1));

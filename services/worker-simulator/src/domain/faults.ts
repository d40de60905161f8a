import { DomainError, WorkerFault, WorkerFaultKind, isDomainError } from '@switchyard/contracts';

/** Faults injected into one worker; every `...UntilMs` is a real Unix time, Infinity until cleared. */
export interface Faults {
  readonly crashed: boolean;
  /** When a crashed worker comes back; Infinity: only `clear` restarts it. */
  readonly restartAtMs: number;
  readonly hungUntilMs: number;
  readonly slowdown: { readonly factor: number; readonly untilMs: number };
  readonly errorRate: { readonly fraction: number; readonly untilMs: number };
  readonly cut: { readonly fraction: number; readonly afterTokens: number; readonly untilMs: number };
  readonly drainUntilMs: number;
}

/** What is in force at one moment. */
export interface ActiveFaults {
  readonly crashed: boolean;
  readonly hung: boolean;
  readonly slowdown: number;
  readonly errorFraction: number;
  /** Share of streams to cut and after how many tokens (0: half of each request's maximum). */
  readonly cut: { readonly fraction: number; readonly afterTokens: number } | undefined;
  readonly draining: boolean;
}

export const NO_FAULTS: Faults = {
  crashed: false,
  restartAtMs: 0,
  hungUntilMs: 0,
  slowdown: { factor: 1, untilMs: 0 },
  errorRate: { fraction: 0, untilMs: 0 },
  cut: { fraction: 0, afterTokens: 0, untilMs: 0 },
  drainUntilMs: 0,
};

const invalid = (message: string) => new DomainError('INVALID_ARGUMENT', `worker fault: ${message}`, { retryable: false });

/** Applies an operator's command; throws `INVALID_ARGUMENT` for a command that makes no sense. */
export function applyFault(faults: Faults, command: WorkerFault, nowMs: number): Faults {
  const until = command.durationMs > 0 ? nowMs + command.durationMs : Infinity;
  const fraction = (fallback: number) => {
    const f = command.fraction === 0 ? fallback : command.fraction;
    if (!(f >= 0 && f <= 1)) throw invalid(`fraction must be within 0..1, got ${command.fraction}`);
    return f;
  };
  switch (command.kind) {
    case WorkerFaultKind.WORKER_FAULT_KIND_STATUS:
      return faults;
    case WorkerFaultKind.WORKER_FAULT_KIND_CRASH:
      return { ...NO_FAULTS, crashed: true, restartAtMs: until };
    case WorkerFaultKind.WORKER_FAULT_KIND_HANG:
      return { ...faults, hungUntilMs: until };
    case WorkerFaultKind.WORKER_FAULT_KIND_SLOWDOWN:
      if (!(command.factor > 0 && Number.isFinite(command.factor))) throw invalid(`slowdown needs a factor > 0, got ${command.factor}`);
      return { ...faults, slowdown: { factor: command.factor, untilMs: until } };
    case WorkerFaultKind.WORKER_FAULT_KIND_ERROR_RATE:
      return { ...faults, errorRate: { fraction: fraction(0), untilMs: until } };
    case WorkerFaultKind.WORKER_FAULT_KIND_CUT_STREAM:
      return { ...faults, cut: { fraction: fraction(1), afterTokens: command.afterTokens, untilMs: until } };
    case WorkerFaultKind.WORKER_FAULT_KIND_DRAIN:
      return { ...faults, drainUntilMs: until };
    case WorkerFaultKind.WORKER_FAULT_KIND_CLEAR:
      return NO_FAULTS;
    default:
      throw invalid(`unknown kind ${command.kind}`);
  }
}

/** The faults in force at `nowMs`; a crash whose restart time has come counts as over. */
export function activeFaults(faults: Faults, nowMs: number): ActiveFaults {
  const live = (untilMs: number) => nowMs < untilMs;
  return {
    crashed: faults.crashed && live(faults.restartAtMs),
    hung: live(faults.hungUntilMs),
    slowdown: live(faults.slowdown.untilMs) ? faults.slowdown.factor : 1,
    errorFraction: live(faults.errorRate.untilMs) ? faults.errorRate.fraction : 0,
    cut: live(faults.cut.untilMs) && faults.cut.fraction > 0 ? { fraction: faults.cut.fraction, afterTokens: faults.cut.afterTokens } : undefined,
    draining: live(faults.drainUntilMs),
  };
}

/**
 * Where to cut a stream of `maxTokens` tokens, or undefined to leave it whole. `draw` is a
 * uniform number in [0, 1). The cut always falls before the end, so a cut stream can never pass
 * for a complete one.
 */
export function cutPoint(maxTokens: number, cut: ActiveFaults['cut'], draw: number): number | undefined {
  if (cut === undefined || draw >= cut.fraction) return undefined;
  const wanted = cut.afterTokens > 0 ? cut.afterTokens : Math.ceil(maxTokens / 2);
  return Math.max(0, Math.min(wanted, maxTokens - 1));
}

const KEYS: Record<string, keyof WorkerFault> = {
  kind: 'kind',
  factor: 'factor',
  fraction: 'fraction',
  afterTokens: 'afterTokens',
  after_tokens: 'afterTokens',
  durationMs: 'durationMs',
  duration_ms: 'durationMs',
};

function kindOf(value: unknown): WorkerFaultKind {
  const names = WorkerFaultKind as Record<string, unknown>;
  if (typeof value === 'number' && Object.values(WorkerFaultKind).includes(value as WorkerFaultKind) && value > 0) return value as WorkerFaultKind;
  if (typeof value === 'string') {
    const name = value.toUpperCase().replaceAll('-', '_');
    const full = name.startsWith('WORKER_FAULT_KIND_') ? name : `WORKER_FAULT_KIND_${name}`;
    const kind = names[full];
    if (typeof kind === 'number' && kind > 0) return kind as WorkerFaultKind;
  }
  const known = Object.keys(WorkerFaultKind).filter((k) => k.startsWith('WORKER_FAULT_KIND_') && !k.endsWith('UNSPECIFIED'));
  throw invalid(`kind must be one of ${known.map((k) => k.slice(18).toLowerCase().replaceAll('_', '-')).join(', ')}; got ${JSON.stringify(value)}`);
}

/**
 * Decodes a command: JSON (`{"kind":"slowdown","factor":3}`; kinds by short or full enum name,
 * fields in camelCase or snake_case) when the payload starts with `{`, protobuf otherwise.
 */
export function parseFaultCommand(data: Uint8Array): WorkerFault {
  const text = new TextDecoder().decode(data).trim();
  if (!text.startsWith('{')) {
    try {
      const decoded = WorkerFault.decode(data);
      return { ...decoded, kind: kindOf(decoded.kind) };
    } catch (cause) {
      if (isDomainError(cause)) throw cause;
      throw new DomainError('INVALID_ARGUMENT', 'worker fault: payload is neither JSON nor a WorkerFault message', { cause, retryable: false });
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DomainError('INVALID_ARGUMENT', 'worker fault: payload is not valid JSON', { cause, retryable: false });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('payload must be a JSON object');
  const command: WorkerFault = { kind: WorkerFaultKind.WORKER_FAULT_KIND_UNSPECIFIED, factor: 0, fraction: 0, afterTokens: 0, durationMs: 0 };
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const field = KEYS[key];
    if (field === undefined)
      throw invalid(
        `unknown field "${key}"; use ${Object.keys(KEYS)
          .filter((k) => !k.includes('_'))
          .join(', ')}`,
      );
    if (field === 'kind') {
      command.kind = kindOf(value);
      continue;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(`"${key}" must be a number >= 0, got ${JSON.stringify(value)}`);
    if ((field === 'afterTokens' || field === 'durationMs') && !Number.isInteger(value)) throw invalid(`"${key}" must be a whole number`);
    command[field] = value;
  }
  if (command.kind === WorkerFaultKind.WORKER_FAULT_KIND_UNSPECIFIED) throw invalid('field "kind" is missing');
  return command;
}

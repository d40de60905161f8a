/** What `switchyard replay` reads: a stream, the subject filter for it, and a time window. */

/**
 * The streams a replay can export, each with the subject filter it reads. nats-server 2.9 takes
 * one filter per consumer, and it must lie within one of the stream's subjects: USAGE, BILLING
 * and DECISIONS end their subjects in the tenant under one prefix, so the server filters a
 * tenant; LIFECYCLE (`requests.<outcome>.<tenant>`, one stream subject per outcome) and REQUESTS
 * (`requests.{admitted,replace}.<tier>.<tenant>`) cannot, and are read whole (undefined) and
 * narrowed by the events' tenant. BILLING is read for its usage only: budget states are no usage.
 */
export const REPLAY_STREAMS = {
  USAGE: (tenant?: string): string | undefined => `usage.recorded.${tenant ?? '*'}`,
  LIFECYCLE: (): string | undefined => undefined,
  DECISIONS: (tenant?: string): string | undefined => (tenant ? `decisions.*.${tenant}` : undefined),
  REQUESTS: (): string | undefined => undefined,
  BILLING: (tenant?: string): string | undefined => `billing.usage.${tenant ?? '*'}`,
} as const;

export type ReplayStream = keyof typeof REPLAY_STREAMS;

const NAMES = Object.keys(REPLAY_STREAMS) as ReplayStream[];

/** Thrown for input a user can fix; the CLI prints its message alone, without a stack. */
export class ReplayInputError extends Error {
  override readonly name = 'ReplayInputError';
}

/** The stream a name (any case) means, or an error naming the streams there are. */
export function parseReplayStream(name: string): ReplayStream {
  const upper = name.toUpperCase();
  if ((NAMES as string[]).includes(upper)) return upper as ReplayStream;
  throw new ReplayInputError(`unknown stream ${name}; streams: ${NAMES.join(', ')}`);
}

const TENANT = /^[A-Za-z0-9_-]+$/;

/** The subject filter for a stream, narrowed to one tenant where the server can; undefined reads it whole. */
export function replayFilter(stream: ReplayStream, tenant?: string): string | undefined {
  if (tenant !== undefined && !TENANT.test(tenant)) {
    throw new ReplayInputError(`--tenant "${tenant}" is not a tenant id: use letters, digits, "-" or "_"`);
  }
  return REPLAY_STREAMS[stream](tenant);
}

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RELATIVE = /^(\d+(?:\.\d+)?)(s|m|h|d)$/;
/** Dates with at least a day (2026-12-06, 2026-12-06T08:00Z, ...), so "12" is not taken for a year. */
const ISO = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A time flag: an ISO date-time, `now`, or a duration ago (`90s`, `30m`, `1h`, `7d`), as Unix ms.
 * An ISO time without a zone is UTC, so the same command means the same window anywhere.
 */
export function parseReplayTime(flag: string, value: string, nowMs: number): number {
  const v = value.trim();
  if (v === 'now') return nowMs;
  const rel = RELATIVE.exec(v);
  if (rel) return nowMs - Number(rel[1]) * UNITS[rel[2]!]!;
  if (ISO.test(v)) {
    const zoned = /T|\s/.test(v) && !/(Z|[+-]\d{2}:?\d{2})$/.test(v) ? `${v.replace(' ', 'T')}Z` : v;
    const ms = Date.parse(zoned);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new ReplayInputError(
    `${flag} "${value}" is not a time: give an ISO time (2026-12-06, 2026-12-06T08:00Z, 2026-12-06T08:00:00+01:00), "now", or a duration ago (90s, 30m, 1h, 7d)`,
  );
}

/** The window `[since, until]` in Unix ms, checked to be in order. */
export function replayWindow(since: string, until: string | undefined, nowMs: number): { sinceMs: number; untilMs: number } {
  const sinceMs = parseReplayTime('--since', since, nowMs);
  const untilMs = until === undefined ? nowMs : parseReplayTime('--until', until, nowMs);
  if (untilMs < sinceMs) {
    throw new ReplayInputError(`--until (${new Date(untilMs).toISOString()}) is before --since (${new Date(sinceMs).toISOString()})`);
  }
  return { sinceMs, untilMs };
}

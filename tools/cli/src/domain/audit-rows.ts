import { AuditOutcome, type AuditRecorded } from '@switchyard/contracts';

/** One audit event as `switchyard audit` prints it. */
export interface AuditRow {
  readonly time: string;
  /** The key id, else the name the CLI recorded (`cli:alice@host`). */
  readonly actor: string;
  readonly actorTenant: string;
  readonly action: string;
  readonly target: string;
  readonly outcome: 'allowed' | 'denied' | 'unknown';
  readonly before: unknown;
  readonly after: unknown;
  readonly reason: string;
  readonly recordedBy: string;
}

export interface AuditFilter {
  /** A key id, or the CLI's actor name. */
  readonly actor?: string;
  readonly action?: string;
}

const OUTCOME: Record<number, AuditRow['outcome']> = {
  [AuditOutcome.AUDIT_OUTCOME_ALLOWED]: 'allowed',
  [AuditOutcome.AUDIT_OUTCOME_DENIED]: 'denied',
};

const parsed = (json: string): unknown => (json ? (JSON.parse(json) as unknown) : null);

export function auditRow(r: AuditRecorded): AuditRow {
  return {
    time: new Date(r.timeUnixMs).toISOString(),
    actor: r.actorKeyId || r.actorName,
    actorTenant: r.actorTenant,
    action: r.action,
    target: r.target,
    outcome: OUTCOME[r.outcome] ?? 'unknown',
    before: parsed(r.beforeJson),
    after: parsed(r.afterJson),
    reason: r.reason,
    recordedBy: r.recordedBy,
  };
}

export const matchesAudit = (r: AuditRecorded, f: AuditFilter): boolean =>
  (f.actor === undefined || r.actorKeyId === f.actor || r.actorName === f.actor) && (f.action === undefined || r.action === f.action);

const cell = (v: unknown, max = 60) => {
  if (v === null || v === undefined) return '-';
  const s = JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};

/** The table's header and rows, cells as text. */
export function auditTable(rows: readonly AuditRow[]): string[][] {
  return [
    ['time', 'actor', 'tenant', 'action', 'target', 'outcome', 'before', 'after', 'reason'],
    ...rows.map((r) => [r.time, r.actor || '-', r.actorTenant || '-', r.action, r.target, r.outcome, cell(r.before), cell(r.after), r.reason || '-']),
  ];
}

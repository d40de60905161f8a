import { AuditOutcome, type AuditRecorded } from '@switchyard/contracts';
import { describe, expect, it } from 'vitest';
import { auditRow, auditTable, matchesAudit } from './audit-rows.js';

const recorded = (over: Partial<AuditRecorded>): AuditRecorded => ({
  actorKeyId: 'ops-1',
  actorTenant: 'ops',
  actorName: '',
  action: 'drain',
  target: 'eu-8b',
  beforeJson: '{"drained":false}',
  afterJson: '{"drained":true,"drainReason":"upgrade"}',
  outcome: AuditOutcome.AUDIT_OUTCOME_ALLOWED,
  reason: 'upgrade',
  timeUnixMs: Date.UTC(2026, 11, 6, 10, 0),
  recordedBy: 'scheduler',
  ...over,
});

describe('audit rows', () => {
  it('shows who did what to what, before and after, and whether it was allowed', () => {
    expect(auditRow(recorded({}))).toMatchObject({
      time: '2026-12-06T10:00:00.000Z',
      actor: 'ops-1',
      outcome: 'allowed',
      before: { drained: false },
      after: { drained: true, drainReason: 'upgrade' },
    });
    const denied = auditRow(recorded({ actorKeyId: 'acme-1', actorTenant: 'acme', outcome: AuditOutcome.AUDIT_OUTCOME_DENIED, afterJson: '', beforeJson: '' }));
    expect(auditTable([denied])[1]).toEqual(['2026-12-06T10:00:00.000Z', 'acme-1', 'acme', 'drain', 'eu-8b', 'denied', '-', '-', 'upgrade']);
  });

  it('names the CLI user when no key was used, and filters by either', () => {
    const cli = recorded({ actorKeyId: '', actorTenant: '', actorName: 'cli:alice@host', action: 'key-create' });
    expect(auditRow(cli).actor).toBe('cli:alice@host');
    expect(matchesAudit(cli, { actor: 'cli:alice@host' })).toBe(true);
    expect(matchesAudit(cli, { actor: 'ops-1' })).toBe(false);
    expect(matchesAudit(recorded({}), { actor: 'ops-1', action: 'drain' })).toBe(true);
    expect(matchesAudit(recorded({}), { action: 'undrain' })).toBe(false);
  });
});

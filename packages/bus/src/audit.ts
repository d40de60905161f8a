import { randomUUID } from 'node:crypto';
import type { JetStreamClient } from '@nats-io/jetstream';
import { AUDIT_FLEET_SCOPE, AuditOutcome, makeEvent, subjects, type AuditAction, type AuditRecorded } from '@switchyard/contracts';
import { publishEvent } from './publish.js';

/** Who acted: the API key a service authenticated, or, without one, a name (the CLI's OS user). */
export interface AuditActor {
  readonly keyId: string;
  readonly tenant: string;
  /** Who acted when no API key was used, e.g. `cli:alice@host`. Default empty. */
  readonly name?: string;
}

/** One operator action, as its recorder knows it. */
export interface AuditEntry {
  readonly actor: AuditActor;
  readonly action: AuditAction;
  /** A pool id, a route alias, a tenant, a key id. */
  readonly target: string;
  /** The tenant the action concerns; default the fleet scope (pools, routes). */
  readonly scope?: string;
  /** State before and after, stored as JSON; undefined when there is none. */
  readonly before?: unknown;
  readonly after?: unknown;
  readonly outcome: 'allowed' | 'denied';
  /** Why it was denied, or the operator's own reason. Default empty. */
  readonly reason?: string;
}

export interface AuditPublisherOptions {
  /** The service or tool recording: scheduler, billing, cli. */
  readonly recordedBy: string;
  /** Default `Date.now`. */
  readonly now?: () => number;
  /** The event's id (its Nats-Msg-Id). Default a random UUID. */
  readonly newId?: () => string;
}

export interface AuditPublisher {
  /**
   * Publishes the entry on `audit.<action>.<scope>` and waits for AUDIT's ack; a retry reuses
   * the id, so the stream keeps one event per action. Call it after the change committed (or
   * was refused), and let its failure reach the caller: an action nobody recorded is not done
   * quietly.
   */
  record(entry: AuditEntry): Promise<AuditRecorded>;
}

const json = (value: unknown) => (value === undefined ? '' : JSON.stringify(value));

/** The one way services and the CLI write the audit trail. */
export function createAuditPublisher(js: JetStreamClient, options: AuditPublisherOptions): AuditPublisher {
  const now = options.now ?? Date.now;
  const newId = options.newId ?? randomUUID;
  return {
    async record(entry) {
      const nowMs = now();
      const scope = entry.scope ?? AUDIT_FLEET_SCOPE;
      const record: AuditRecorded = {
        actorKeyId: entry.actor.keyId,
        actorTenant: entry.actor.tenant,
        actorName: entry.actor.name ?? '',
        action: entry.action,
        target: entry.target,
        beforeJson: json(entry.before),
        afterJson: json(entry.after),
        outcome: entry.outcome === 'allowed' ? AuditOutcome.AUDIT_OUTCOME_ALLOWED : AuditOutcome.AUDIT_OUTCOME_DENIED,
        reason: entry.reason ?? '',
        timeUnixMs: nowMs,
        recordedBy: options.recordedBy,
      };
      const id = `audit-${entry.action}-${newId()}`;
      await publishEvent(
        js,
        subjects.audit(entry.action, scope),
        makeEvent({ id, tenant: scope, requestId: '', nowMs }, { $case: 'auditRecorded', auditRecorded: record }),
      );
      return record;
    },
  };
}

import { hostname, userInfo } from 'node:os';
import { createAuditPublisher, jetstream, jetstreamManager, provisionStreams, type AuditEntry, type NatsConnection } from '@switchyard/bus';
import { streams } from '@switchyard/contracts';

/** Records what the CLI itself changed in KV; the actor is filled in. */
export type CliAudit = (entry: Omit<AuditEntry, 'actor'>) => Promise<void>;

/**
 * Who the CLI acts as. It writes the KV buckets with the operator's NATS login and no API key,
 * so the record names the OS user and host it ran as (`cli:alice@host`): the one identity it
 * knows, and the one a person can be asked about.
 */
export const cliActorName = (): string => `cli:${userInfo().username}@${hostname()}`;

/**
 * The audit writer of one CLI command, over its own connection. A system whose services have
 * not restarted since AUDIT was added has no such stream yet: the CLI creates it (only when
 * missing, so a cluster's replicated stream is left as it is) rather than lose the record.
 */
export function cliAudit(nc: NatsConnection): CliAudit {
  const publisher = createAuditPublisher(jetstream(nc), { recordedBy: 'cli' });
  const name = cliActorName();
  let ready: Promise<void> | undefined;
  const ensureStream = async () => {
    const jsm = await jetstreamManager(nc);
    const exists = await jsm.streams.info(streams.AUDIT.name).then(
      () => true,
      () => false,
    );
    if (!exists) await provisionStreams(jsm, [streams.AUDIT]);
  };
  return async (entry) => {
    await (ready ??= ensureStream());
    await publisher.record({ ...entry, actor: { keyId: '', tenant: '', name } });
  };
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { connectBus, jetstream, jetstreamManager, type NatsConnection } from '@switchyard/bus';
import { streams } from '@switchyard/contracts';
import { startNats, testPool, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readAudit, registerAuditCommand } from './audit.js';
import { cliActorName } from './cli-audit.js';
import { registerOpsCommands } from './ops.js';
import { registerPolicyCommands } from './policy.js';
import { registerTenantCommands } from './tenants.js';

/**
 * What the CLI writes to KV itself it records on AUDIT, as the OS user it runs as: the
 * commands run here in-process, against a bare nats-server where no service has created the
 * AUDIT stream yet.
 */
let nats: TestServer;
let nc: NatsConnection;
const startedMs = Date.now() - 1_000;
const pool = 'eu-8b';

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'cli-audit-test' });
}, 60_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await nc?.close();
  await nats?.dispose();
});

/** Runs `switchyard <args>` in this process and returns what it printed. */
async function cli(...args: string[]): Promise<string> {
  const env = { NATS_URL: nats.url };
  // `key` and `tenant` read NATS_URL from the process (they have no --nats).
  vi.stubEnv('NATS_URL', nats.url);
  const program = new Command('switchyard').exitOverride();
  registerTenantCommands(program);
  registerOpsCommands(program, env);
  registerPolicyCommands(program, env);
  registerAuditCommand(program, env);
  const printed: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void printed.push(String(line)));
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    log.mockRestore();
  }
  return printed.join('\n');
}

describe('switchyard audit of what the CLI changes itself', () => {
  it('records keys, limits, policies and drains with the CLI user, before and after, and lists them', async () => {
    const poolsFile = join(mkdtempSync(join(tmpdir(), 'sy-pools-')), 'pools.json');
    writeFileSync(poolsFile, JSON.stringify({ pools: [testPool({ id: pool })] }));
    const policyFile = join(mkdtempSync(join(tmpdir(), 'sy-policy-')), 'policy.json');
    writeFileSync(policyFile, JSON.stringify({ version: 'v1', blockedTopics: ['casino'] }));

    const created = await cli('key', 'create', '--tenant', 'initech', '--feature', 'chat');
    const keyId = /key id {2}(\S+)/.exec(created)![1]!;
    const apiKey = /api key (\S+)/.exec(created)![1]!;
    await cli('key', 'revoke', keyId);
    await cli('tenant', 'initech', '--tier', 'realtime', '--rpm', '60');
    await cli('policy', 'set', 'initech', policyFile);
    await cli('pool', 'drain', pool, '--reason', 'driver upgrade', '--pools', poolsFile);
    await cli('pool', 'undrain', pool);

    // The first record made the stream, as the services would have.
    expect((await (await jetstreamManager(nc)).streams.info(streams.AUDIT.name)).config.subjects).toEqual(['audit.>']);
    const rows = await readAudit(jetstream(nc), { sinceMs: startedMs, untilMs: Date.now() });
    const actor = cliActorName();
    expect(rows.map((r) => [r.action, r.target, r.actor, r.actorTenant, r.outcome, r.recordedBy])).toEqual([
      ['key-create', keyId, actor, '', 'allowed', 'cli'],
      ['key-revoke', keyId, actor, '', 'allowed', 'cli'],
      ['tenant-limits', 'initech', actor, '', 'allowed', 'cli'],
      ['policy-set', 'initech', actor, '', 'allowed', 'cli'],
      ['drain', pool, actor, '', 'allowed', 'cli'],
      ['undrain', pool, actor, '', 'allowed', 'cli'],
    ]);
    expect(rows[0]!.after).toEqual({ tenant: 'initech', tiers: [], feature: 'chat', operator: false });
    expect(rows[1]).toMatchObject({ before: { revoked: false }, after: { revoked: true } });
    expect(rows[2]).toMatchObject({ before: null, after: { realtime: { requestsPerMinute: 60, tokensPerMinute: 1_000_000 } } });
    expect(rows[3]).toMatchObject({ before: null, after: { version: 'v1', blockedTopics: ['casino'] } });
    expect(rows[4]).toMatchObject({ before: { drained: false }, after: { drained: true, drainReason: 'driver upgrade' }, reason: 'driver upgrade' });
    expect(rows[5]).toMatchObject({ before: { drained: true }, after: { drained: false } });
    // The key itself is never on the trail.
    expect(JSON.stringify(rows)).not.toContain(apiKey);

    const table = await cli('audit', '--since', '10m', '--action', 'drain');
    expect(table.split('\n')).toHaveLength(2);
    expect(table).toMatch(new RegExp(`${actor.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+-\\s+drain\\s+${pool}\\s+allowed`));
    expect(await cli('audit', '--since', '10m', '--actor', 'ops-1')).toBe('no audit events in this window');
  });
});

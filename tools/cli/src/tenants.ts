import { InvalidArgumentError, Option, type Command } from 'commander';
import { generateApiKey, hashApiKey, openTenantStore, tenantKeys, type TenantStore } from '@switchyard/auth';
import { connectBus, openBucket, type KV } from '@switchyard/bus';
import { buckets, isTenantId, type TierName } from '@switchyard/contracts';
import { cliAudit, type CliAudit } from './cli-audit.js';

/** NATS of the tenants bucket: `--nats`, else `$NATS_URL`, else the local one. */
export const natsUrlOf = (o: { nats?: string }, env: NodeJS.ProcessEnv) => o.nats ?? env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** Runs `run` with the tenants bucket and its store, caught up with what the bucket holds. */
export async function withTenantStore<T>(url: string, run: (store: TenantStore, kv: KV, audit: CliAudit) => Promise<T>): Promise<T> {
  const nc = await connectBus({ url, name: 'switchyard-cli' });
  try {
    const kv = await openBucket(nc, buckets.tenants);
    const store = await openTenantStore(kv);
    try {
      return await run(store, kv, cliAudit(nc));
    } finally {
      await store.stop();
    }
  } finally {
    await nc.close();
  }
}

const withStore = <T>(run: (store: TenantStore, kv: KV, audit: CliAudit) => Promise<T>) => withTenantStore(natsUrlOf({}, process.env), run);

/**
 * `switchyard tenant delete`: removes the tenant's settings and revokes every API key of it, so
 * it can no longer call; the ledger keeps its history and billing its invoices. Refuses without
 * `yes`, and for a tenant the bucket does not know.
 */
export async function deleteTenant(store: TenantStore, kv: KV, tenant: string, yes: boolean, audit?: CliAudit): Promise<string> {
  const active = store.listKeys(tenant).filter((k) => !k.revoked);
  const settings = store.settings(tenant);
  if (!settings && active.length === 0) throw new Error(`unknown tenant "${tenant}": it has no settings and no active API key; nothing to delete`);
  const what = `tenant ${tenant}: ${settings ? 'its settings' : 'no settings'} and ${active.length} active API key(s)`;
  if (!yes) throw new Error(`this deletes ${what}; the ledger keeps its history. Run again with --yes to do it`);
  for (const k of active) await store.revokeKey(k.keyId);
  if (settings) await kv.delete(tenantKeys.tenant(tenant));
  await audit?.({
    action: 'tenant-delete',
    target: tenant,
    scope: tenant,
    before: { settings, activeKeys: active.map((k) => k.keyId) },
    after: { settings: null, activeKeys: [] },
    outcome: 'allowed',
  });
  return `deleted ${what}${active.length ? ` (${active.map((k) => k.keyId).join(', ')} revoked)` : ''}; ledger history kept`;
}

/** A tenant id as billing and the tenants bucket accept it. */
export const tenantArg = (value: string) => {
  if (!isTenantId(value)) throw new InvalidArgumentError('expected a tenant id: 1-64 letters, digits, "_" or "-"');
  return value;
};

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * `switchyard tenant set` and `switchyard key create|revoke|list`: manage tenants and their
 * API keys in the `tenants` KV bucket. Admission replicas pick changes up live.
 */
export function registerTenantCommands(program: Command): void {
  const tenantCommand = program
    .command('tenant')
    .description("set a tenant's rate limits (budgets: `switchyard budget set`); `tenant delete` removes one")
    .argument('<tenant>', 'tenant id', tenantArg)
    .option('--tier <tier>', 'tier the limits apply to', 'realtime')
    .option('--rpm <n>', 'requests per minute', Number)
    .option('--tpm <n>', 'tokens per minute', Number)
    // Budgets moved to billing; the old options stay only to say where.
    .addOption(new Option('--budget-micros <n>').hideHelp())
    .addOption(new Option('--budget-mode <mode>').hideHelp())
    .action((tenant: string, o: { tier: TierName; rpm?: number; tpm?: number; budgetMicros?: string; budgetMode?: string }) => {
      if (o.budgetMicros !== undefined || o.budgetMode !== undefined) {
        throw new Error(`budgets are billing's now: use \`switchyard budget set --tenant ${tenant} --hard-micros N\` (or --soft-micros N)`);
      }
      return withStore(async (store, _kv, audit) => {
        const before = store.settings(tenant);
        const current = before ?? { tenant, limits: {} };
        const limits = { ...current.limits };
        if (o.rpm !== undefined || o.tpm !== undefined) {
          const prev = limits[o.tier];
          limits[o.tier] = { requestsPerMinute: o.rpm ?? prev?.requestsPerMinute ?? 600, tokensPerMinute: o.tpm ?? prev?.tokensPerMinute ?? 1_000_000 };
        }
        await store.putTenant({ ...current, limits });
        await audit({ action: 'tenant-limits', target: tenant, scope: tenant, before: before?.limits, after: limits, outcome: 'allowed' });
        console.log(JSON.stringify(store.settings(tenant), null, 2));
      });
    });
  tenantCommand
    .command('delete')
    .description("remove a tenant's settings and revoke its API keys (its ledger history stays)")
    .argument('<tenant>', 'tenant id', tenantArg)
    .option('--yes', 'really delete')
    .option('--nats <url>', 'NATS holding the tenants bucket; default $NATS_URL or the local one')
    .action((tenant: string, o: { yes?: boolean; nats?: string }) =>
      withTenantStore(natsUrlOf(o, process.env), async (store, kv, audit) => console.log(await deleteTenant(store, kv, tenant, o.yes ?? false, audit))),
    );

  const key = program.command('key').description('create, revoke and list API keys');
  key
    .command('create')
    .requiredOption('--tenant <tenant>', 'tenant the key belongs to')
    .option('--tiers <list>', 'tiers it may use, comma-separated (default: all)', list, [])
    .option('--feature <tag>', 'feature tag stamped on its requests', '')
    .option('--operator', "may read every tenant's billing data")
    .action((o: { tenant: string; tiers: TierName[]; feature: string; operator?: boolean }) =>
      withStore(async (store, _kv, audit) => {
        const apiKey = generateApiKey();
        const keyId = `${o.tenant}-${hashApiKey(apiKey).slice(0, 8)}`;
        await store.putKey({
          keyId,
          tenant: o.tenant,
          keyHash: hashApiKey(apiKey),
          tiers: o.tiers,
          feature: o.feature,
          operator: o.operator ?? false,
          createdUnixMs: Date.now(),
        });
        // The key itself is never recorded, nor its hash: only what it may do.
        const after = { tenant: o.tenant, tiers: o.tiers, feature: o.feature, operator: o.operator ?? false };
        await audit({ action: 'key-create', target: keyId, scope: o.tenant, after, outcome: 'allowed' });
        console.log(`key id  ${keyId}\napi key ${apiKey}   (shown once; only its hash is stored)`);
      }),
    );
  key
    .command('revoke')
    .argument('<keyId>')
    .action((keyId: string) =>
      withStore(async (store, _kv, audit) => {
        const tenant = store.listKeys().find((k) => k.keyId === keyId)?.tenant;
        if (!(await store.revokeKey(keyId))) throw new Error(`no key ${keyId}; see \`switchyard key list\``);
        await audit({ action: 'key-revoke', target: keyId, scope: tenant, before: { revoked: false }, after: { revoked: true }, outcome: 'allowed' });
        console.log(`revoked ${keyId}`);
      }),
    );
  key
    .command('list')
    .option('--tenant <tenant>')
    .action((o: { tenant?: string }) =>
      withStore(async (store) => {
        for (const k of store.listKeys(o.tenant)) {
          console.log(
            `${k.keyId}\t${k.tenant}\t${k.tiers.join(',') || 'all tiers'}\t${k.feature || '-'}\t${k.revoked ? 'REVOKED' : 'active'}${k.operator ? '\toperator' : ''}`,
          );
        }
      }),
    );
}

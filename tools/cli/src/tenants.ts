import type { Command } from 'commander';
import { generateApiKey, hashApiKey, openTenantStore, type TenantStore } from '@switchyard/auth';
import { connectBus, openBucket } from '@switchyard/bus';
import { buckets, type TierName } from '@switchyard/contracts';

async function withStore<T>(run: (store: TenantStore) => Promise<T>): Promise<T> {
  const nc = await connectBus({ url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'switchyard-cli' });
  try {
    const store = await openTenantStore(await openBucket(nc, buckets.tenants));
    try {
      return await run(store);
    } finally {
      await store.stop();
    }
  } finally {
    await nc.close();
  }
}

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
  program
    .command('tenant')
    .description("set a tenant's rate limits (budgets: switchyard budget set)")
    .argument('<tenant>', 'tenant id')
    .option('--tier <tier>', 'tier the limits apply to', 'realtime')
    .option('--rpm <n>', 'requests per minute', Number)
    .option('--tpm <n>', 'tokens per minute', Number)
    .action((tenant: string, o: { tier: TierName; rpm?: number; tpm?: number }) =>
      withStore(async (store) => {
        const current = store.settings(tenant) ?? { tenant, limits: {} };
        const limits = { ...current.limits };
        if (o.rpm !== undefined || o.tpm !== undefined) {
          const prev = limits[o.tier];
          limits[o.tier] = { requestsPerMinute: o.rpm ?? prev?.requestsPerMinute ?? 600, tokensPerMinute: o.tpm ?? prev?.tokensPerMinute ?? 1_000_000 };
        }
        await store.putTenant({ ...current, limits });
        console.log(JSON.stringify(store.settings(tenant), null, 2));
      }),
    );

  const key = program.command('key').description('create, revoke and list API keys');
  key
    .command('create')
    .requiredOption('--tenant <tenant>', 'tenant the key belongs to')
    .option('--tiers <list>', 'tiers it may use, comma-separated (default: all)', list, [])
    .option('--feature <tag>', 'feature tag stamped on its requests', '')
    .option('--operator', "may read every tenant's billing data")
    .action((o: { tenant: string; tiers: TierName[]; feature: string; operator?: boolean }) =>
      withStore(async (store) => {
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
        console.log(`key id  ${keyId}\napi key ${apiKey}   (shown once; only its hash is stored)`);
      }),
    );
  key
    .command('revoke')
    .argument('<keyId>')
    .action((keyId: string) =>
      withStore(async (store) => {
        if (!(await store.revokeKey(keyId))) throw new Error(`no key ${keyId}; see \`switchyard key list\``);
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

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { connectBus, openBucket, type KV } from '@switchyard/bus';
import { buckets } from '@switchyard/contracts';
import { cliAudit, type CliAudit } from './cli-audit.js';
import { DEFAULT_POLICY, deletePolicyDocument, getPolicyDocument, policyFromJson, putPolicyDocument } from '@switchyard/policy-rules';

/** Where the policies live: `--nats`, else `NATS_URL`, else the local default. */
const natsUrl = (o: { nats?: string }, env: NodeJS.ProcessEnv) => o.nats ?? env.NATS_URL ?? 'nats://127.0.0.1:4222';

async function withPolicies<T>(url: string, run: (kv: KV, audit: CliAudit) => Promise<T>): Promise<T> {
  const nc = await connectBus({ url, name: 'switchyard-cli' });
  try {
    return await run(await openBucket(nc, buckets.policies), cliAudit(nc));
  } finally {
    await nc.close();
  }
}

const readDocument = (file: string): string => readFileSync(file === '-' ? 0 : file, 'utf8');

/** `switchyard policy set`: validates and stores; returns what to tell the operator. */
export async function setPolicy(kv: KV, tenant: string, json: string, audit?: CliAudit): Promise<string> {
  // Parse here so a typo is reported with its path before anything is written.
  const { document } = policyFromJson(json);
  const before = await getPolicyDocument(kv, tenant);
  const { revision } = await putPolicyDocument(kv, tenant, document);
  await audit?.({ action: 'policy-set', target: tenant, scope: tenant, before: before && JSON.parse(before.json), after: document, outcome: 'allowed' });
  return `tenant ${tenant}: policy ${document.version} stored (revision ${revision}); every policy replica applies it from its next request`;
}

/** `switchyard policy get`: the stored document, or a note that the default applies. */
export async function getPolicy(kv: KV, tenant: string): Promise<{ json?: string; note?: string }> {
  const stored = await getPolicyDocument(kv, tenant);
  if (stored === undefined) return { note: `tenant ${tenant} has no policy: the default (${DEFAULT_POLICY.version}) applies` };
  return { json: JSON.stringify(JSON.parse(stored.json), null, 2), note: `revision ${stored.revision}` };
}

/**
 * `switchyard policy get|set|delete|validate`: a tenant's policy in the `policies` KV
 * bucket, which every policy replica watches and applies live.
 */
export function registerPolicyCommands(program: Command, env: NodeJS.ProcessEnv): void {
  const policy = program.command('policy').description("show, set or remove a tenant's policy (PII, secrets, blocked topics, output checks)");
  const nats = ['--nats <url>', 'NATS server (default: NATS_URL, else nats://127.0.0.1:4222)'] as const;
  policy
    .command('get')
    .description("print a tenant's stored policy")
    .argument('<tenant>')
    .option(...nats)
    .action((tenant: string, o: { nats?: string }) =>
      withPolicies(natsUrl(o, env), async (kv) => {
        const { json, note } = await getPolicy(kv, tenant);
        if (json !== undefined) console.log(json);
        if (note !== undefined) console.error(note);
      }),
    );
  policy
    .command('set')
    .description('validate a JSON policy document and store it for a tenant (see README, "Policy")')
    .argument('<tenant>')
    .argument('<file>', 'the JSON document, or - for stdin')
    .option(...nats)
    .action((tenant: string, file: string, o: { nats?: string }) =>
      withPolicies(natsUrl(o, env), async (kv, audit) => console.log(await setPolicy(kv, tenant, readDocument(file), audit))),
    );
  policy
    .command('delete')
    .description("remove a tenant's policy: the default applies again")
    .argument('<tenant>')
    .option(...nats)
    .action((tenant: string, o: { nats?: string }) =>
      withPolicies(natsUrl(o, env), async (kv, audit) => {
        const before = await getPolicyDocument(kv, tenant);
        await deletePolicyDocument(kv, tenant);
        await audit({ action: 'policy-set', target: tenant, scope: tenant, before: before && JSON.parse(before.json), after: null, outcome: 'allowed' });
        console.log(`tenant ${tenant}: policy removed; the default (${DEFAULT_POLICY.version}) applies`);
      }),
    );
  policy
    .command('validate')
    .description('check a policy document without storing it')
    .argument('<file>', 'the JSON document, or - for stdin')
    .action((file: string) => {
      const { policy: compiled } = policyFromJson(readDocument(file));
      console.log(`valid: version ${compiled.version}, ${compiled.detectors.length} detectors, output ${compiled.output ? 'checked' : 'not checked'}`);
    });
}

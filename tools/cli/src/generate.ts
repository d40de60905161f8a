import { tierFromName, type TierName } from '@switchyard/contracts';
import { createSwitchyardClient } from '@switchyard/sdk';
import { findLocalEnv, readLocalEnv } from './local-env.js';
import { tlsOf } from './tls-target.js';

export interface GenerateCommandOptions {
  prompt: string;
  model: string;
  maxTokens: number;
  tier: TierName;
  seed?: number;
}

/** Where to call and with which key: the environment first, then `.switchyard/local.env`. */
export function resolveTarget(env: NodeJS.ProcessEnv): { address: string; apiKey: string; billingAddress?: string; tls?: { ca?: Buffer } } {
  const file = findLocalEnv();
  const local = file ? readLocalEnv(file) : {};
  const address = env.SWITCHYARD_ADDR ?? local.SWITCHYARD_ADDR;
  const apiKey = env.SWITCHYARD_API_KEY ?? local.SWITCHYARD_API_KEY;
  if (!address || !apiKey) {
    throw new Error('no Switchyard to call: run `pnpm start` first, or set SWITCHYARD_ADDR and SWITCHYARD_API_KEY');
  }
  return { address, apiKey, billingAddress: env.SWITCHYARD_BILLING_ADDR ?? local.SWITCHYARD_BILLING_ADDR, tls: tlsOf(env) };
}

/** Streams one generation to stdout as tokens arrive; usage goes to stderr. */
export async function generateCommand(options: GenerateCommandOptions, env: NodeJS.ProcessEnv): Promise<void> {
  const client = createSwitchyardClient(resolveTarget(env));
  try {
    for await (const response of client.generate({
      model: options.model,
      prompt: options.prompt,
      maxTokens: options.maxTokens,
      tier: tierFromName(options.tier),
      seed: options.seed,
      timeoutMs: 120_000,
    })) {
      const e = response.event;
      if (e?.$case === 'chunk') process.stdout.write(e.chunk.text);
      else if (e?.$case === 'started') process.stderr.write(`[${e.started.requestId}]\n`);
      else if (e?.$case === 'finished') {
        const u = e.finished.usage;
        process.stderr.write(`\n[completed: ${u?.inputTokens ?? 0} input + ${u?.outputTokens ?? 0} output tokens]\n`);
      }
    }
  } finally {
    client.close();
  }
}

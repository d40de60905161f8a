import { findLocalEnv, readLocalEnv } from './local-env.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { connectBus, openBucket, type KV, type NatsConnection } from '@switchyard/bus';
import { loadPoolsFile, type PoolSpec } from '@switchyard/config';
import { PoolHealth, buckets, parseHeartbeat, routesKeys, subjects, type PoolStatus, type WorkerFaultReply, type WorkerHeartbeat } from '@switchyard/contracts';
import { modelRoute, poolStates, poolStatus, poolVersion, readDrains, readRoutes, setDrained, updateRoute, withWeights } from '@switchyard/scheduler';
import { REPO_ROOT } from './stack.js';
import { table } from './table.js';
import { cliAudit, type CliAudit } from './cli-audit.js';

interface Buckets {
  readonly pools: KV;
  readonly routes: KV;
  readonly audit: CliAudit;
}

/** `--nats`, NATS_URL, else the local default. */
export const natsUrl = (o: { nats?: string }, env: NodeJS.ProcessEnv) => o.nats ?? env.NATS_URL ?? 'nats://127.0.0.1:4222';
/** The pools file: `--pools`, POOLS_FILE, the one the local system was started with, else deploy/pools.yaml. */
export const poolsFile = (o: { pools?: string }, env: NodeJS.ProcessEnv) => {
  const local = findLocalEnv();
  return o.pools ?? env.POOLS_FILE ?? (local && readLocalEnv(local).SWITCHYARD_POOLS_FILE) ?? join(REPO_ROOT, 'deploy', 'pools.yaml');
};

async function withBuckets<T>(url: string, run: (b: Buckets) => Promise<T>): Promise<T> {
  const nc = await connectBus({ url, name: 'switchyard-cli' });
  try {
    return await run({ pools: await openBucket(nc, buckets.pools, { ttl: 10_000 }), routes: await openBucket(nc, buckets.routes), audit: cliAudit(nc) });
  } finally {
    await nc.close();
  }
}

/** Every worker's latest heartbeat in the `pools` bucket. */
export async function heartbeats(kv: KV): Promise<WorkerHeartbeat[]> {
  const out: WorkerHeartbeat[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    const beat = entry && entry.operation === 'PUT' ? parseHeartbeat(entry.value) : undefined;
    if (beat) out.push(beat);
  }
  return out;
}

const HEALTH: Record<number, string> = {
  [PoolHealth.POOL_HEALTH_HEALTHY]: 'healthy',
  [PoolHealth.POOL_HEALTH_DEGRADED]: 'degraded',
  [PoolHealth.POOL_HEALTH_DOWN]: 'down',
  [PoolHealth.POOL_HEALTH_DRAINED]: 'drained',
};

/**
 * What a pool costs the platform, in one cell: `$4.10/GPU-h`, or for a provider's per-token
 * pool its input / cached input / output prices per million tokens (`$2.50/$1.25/$10.00 per M tok`).
 */
export function priceLabel(s: Pick<PoolStatus, 'costBasis' | 'pricePerGpuHour' | 'inputPerMillion' | 'cachedInputPerMillion' | 'outputPerMillion'>): string {
  if (s.costBasis === 'per-token')
    return `$${s.inputPerMillion.toFixed(2)}/$${s.cachedInputPerMillion.toFixed(2)}/$${s.outputPerMillion.toFixed(2)} per M tok (in/cached/out)`;
  return `$${s.pricePerGpuHour.toFixed(2)}/GPU-h`;
}

/** `switchyard pools`: every pool of the pools file with its live state, as a table. */
export async function listPools(b: Pick<Buckets, 'pools' | 'routes'>, pools: readonly PoolSpec[], nowMs: number): Promise<string> {
  const states = poolStates(await heartbeats(b.pools), nowMs, { staleMs: 3_000 });
  const drained = await readDrains(b.routes);
  const rows = [['pool', 'provider', 'region', 'gpu', 'version', 'class', 'price', 'workers', 'running', 'waiting', 'free', 'kv', 'state']];
  for (const p of pools) {
    const s = poolStatus(p, states.get(p.id), drained.get(p.id), 0);
    rows.push([
      s.id,
      s.provider,
      s.region,
      s.gpu,
      s.version,
      s.capacityClass,
      priceLabel(s),
      `${s.healthyWorkers}/${s.workers}`,
      String(s.running),
      String(s.waiting),
      String(s.freeSlots),
      `${Math.round(s.kvUsed * 100)}%`,
      `${HEALTH[s.health] ?? '?'}${s.drainReason ? ` (${s.drainReason})` : ''}`,
    ]);
  }
  return table(rows);
}

/** Parses `version=weight` arguments. */
export function parseWeights(args: readonly string[]): Array<{ version: string; weight: number }> {
  return args.map((a) => {
    const [version, weight] = a.split('=');
    const w = Number(weight);
    if (!version || weight === undefined || !Number.isFinite(w) || w < 0) throw new Error(`"${a}": give version=weight, e.g. llama-3.1-8b=90`);
    return { version, weight: w };
  });
}

/**
 * Sends a fault command (JSON, e.g. `{"kind":"crash"}`) to every worker of `pool`, or to one,
 * and returns each worker's reply. Workers take commands only when started with
 * `WORKER_FAULTS=on`; when none answers within `waitMs` (default 1,000) it says so.
 */
export async function sendFault(nc: NatsConnection, pool: string, command: string, worker?: string, waitMs = 1_000): Promise<WorkerFaultReply[]> {
  const subject = subjects.workerControl(pool, worker);
  const replies: WorkerFaultReply[] = [];
  try {
    for await (const m of await nc.requestMany(subject, command, { strategy: 'timer', maxWait: waitMs }))
      replies.push(JSON.parse(m.string()) as WorkerFaultReply);
  } catch (e) {
    if (!/no responders/i.test(String(e))) throw e;
  }
  if (replies.length === 0) {
    throw new Error(
      `no worker answered on ${subject}: fault injection is off on these workers (start them with WORKER_FAULTS=on), or none serves ${worker ? `worker ${worker} of ` : ''}pool ${pool}`,
    );
  }
  return replies;
}

/**
 * `switchyard pools`, `switchyard pool drain|undrain` and `switchyard route list|set`: the
 * scheduler's operator controls, written to the `routes` KV bucket that every scheduler replica
 * watches (the same state the gRPC OpsService changes).
 */
export function registerOpsCommands(program: Command, env: NodeJS.ProcessEnv): void {
  const nats = ['--nats <url>', 'NATS server (default: NATS_URL, else nats://127.0.0.1:4222)'] as const;
  const file = ['--pools <file>', 'pools file (default: POOLS_FILE, else the one `switchyard up` ran with, else deploy/pools.yaml)'] as const;
  const specs = (o: { pools?: string }) => {
    const path = poolsFile(o, env);
    if (!existsSync(path)) throw new Error(`no pools file at ${path}; pass --pools`);
    return loadPoolsFile(path);
  };

  program
    .command('pools')
    .description('list the GPU pools and their live state (heartbeats, drains)')
    .option(...nats)
    .option(...file)
    .action((o: { nats?: string; pools?: string }) => withBuckets(natsUrl(o, env), async (b) => console.log(await listPools(b, specs(o), Date.now()))));

  const pool = program.command('pool').description('drain or undrain a pool (no new placements; what it holds finishes)');
  pool
    .command('drain')
    .argument('<pool>')
    .option('--reason <text>', 'why, shown by `switchyard pools`', 'drained by an operator')
    .option(...nats)
    .option(...file)
    .action((id: string, o: { reason: string; nats?: string; pools?: string }) =>
      withBuckets(natsUrl(o, env), async (b) => {
        if (!specs(o).some((p) => p.id === id)) throw new Error(`no pool "${id}" in the pools file`);
        const before = (await readDrains(b.routes)).get(id);
        await setDrained(b.routes, id, true, o.reason, Date.now());
        await b.audit({
          action: 'drain',
          target: id,
          before: { drained: before !== undefined },
          after: { drained: true, drainReason: o.reason },
          outcome: 'allowed',
          reason: o.reason,
        });
        console.log(`pool ${id} drained (${routesKeys.drain(id)}); schedulers place nothing new on it`);
      }),
    );
  pool
    .command('undrain')
    .argument('<pool>')
    .option(...nats)
    .action((id: string, o: { nats?: string }) =>
      withBuckets(natsUrl(o, env), async (b) => {
        const before = (await readDrains(b.routes)).get(id);
        await setDrained(b.routes, id, false, '', Date.now());
        await b.audit({ action: 'undrain', target: id, before: { drained: before !== undefined }, after: { drained: false }, outcome: 'allowed' });
        console.log(`pool ${id} takes requests again`);
      }),
    );

  program
    .command('fault')
    .description('inject a fault into simulated workers that run with WORKER_FAULTS=on, e.g. `fault <pool> \'{"kind":"slowdown","factor":3}\'`')
    .argument('<pool>')
    .argument('<command>', 'JSON: kind crash|hang|slowdown|error-rate|cut-stream|drain|clear|status, and factor, fraction, afterTokens, durationMs')
    .option('--worker <id>', 'one worker of the pool (ids are in `nats kv ls pools`); default every worker')
    .option(...nats)
    .action(async (id: string, command: string, o: { worker?: string; nats?: string }) => {
      const nc = await connectBus({ url: natsUrl(o, env), name: 'switchyard-cli' });
      try {
        for (const reply of await sendFault(nc, id, command, o.worker)) console.log(JSON.stringify(reply));
      } finally {
        await nc.close();
      }
    });

  const route = program.command('route').description('model routes: aliases, version weights, canaries');
  route
    .command('list')
    .option(...nats)
    .action((o: { nats?: string }) =>
      withBuckets(natsUrl(o, env), async (b) => {
        for (const [alias, { route: r, revision }] of await readRoutes(b.routes)) console.log(JSON.stringify(modelRoute(alias, r, revision)));
      }),
    );
  route
    .command('set')
    .description('set version weights, e.g. `route set chat-large llama-3.1-8b=90 llama-3.1-8b-v2=10 --canary llama-3.1-8b-v2`')
    .argument('<alias>')
    .argument('<weights...>', 'version=weight pairs')
    .option('--canary <version>', 'run this version as a canary, rolled back automatically if it misbehaves', '')
    .option(...nats)
    .option(...file)
    .action((alias: string, weights: string[], o: { canary: string; nats?: string; pools?: string }) =>
      withBuckets(natsUrl(o, env), async (b) => {
        const routes = await readRoutes(b.routes);
        const known = { versions: new Set(specs(o).map(poolVersion)), aliases: new Set(routes.keys()) };
        const { route: r, revision } = await updateRoute(b.routes, alias, (current) =>
          withWeights(current, parseWeights(weights), o.canary, known, Date.now()),
        );
        const before = routes.get(alias);
        const after = modelRoute(alias, r, revision);
        await b.audit({
          action: 'route-weights',
          target: alias,
          before: before && {
            versions: modelRoute(alias, before.route, before.revision).versions,
            canary: modelRoute(alias, before.route, before.revision).canary,
          },
          after: { versions: after.versions, canary: after.canary },
          outcome: 'allowed',
        });
        console.log(JSON.stringify(after));
      }),
    );
}

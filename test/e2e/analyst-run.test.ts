import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, type LoadResult } from '@switchyard/cli';
import { jetstreamManager } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { waitFor } from '@switchyard/testing';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

// Issue #19's "done when", as an analyst runs it, every step through the `switchyard` binary:
// 10 minutes of the Azure conversation trace at 10x through admission, the report of that run,
// the USAGE export of its window against the ledger, the ledger rebuilt from the streams (then
// with one transaction deleted by hand), and the forecast of the recorded window at 1x against
// what was measured.

const exec = promisify(execFile);
const BIN = join(REPO_ROOT, 'tools', 'cli', 'bin', 'switchyard.js');
const TRACE = join(REPO_ROOT, 'bench', 'traces', 'AzureLLMInferenceTrace_conv.csv');
/** Trace seconds replayed: 2 minutes in `pnpm test`; `pnpm test:analysts` runs the 10 (a minute at 10x). */
const TRACE_S = Number(process.env.ANALYST_RUN_TRACE_S ?? 120);
const SPEED = 10;
const dir = mkdtempSync(join(tmpdir(), 'analyst-run-'));

// The 8B pools of deploy/pools.yaml, grown to carry ~48 requests a second of ~1,150-token
// prompts and ~260-token answers in real (simulated) time.
const pools = loadPoolsFile(join(REPO_ROOT, 'deploy', 'pools.yaml'))
  .filter((p) => p.model === 'llama-3.1-8b')
  .map((p) => ({ ...p, workers: p.workers * 2 }));

// Admission's per-tenant pacing, told to the forecast too. Above the defaults (internal 16):
// two tenants carrying 10x the trace run ~30 internal calls each at once, and at the default
// the run sits at pacing's knee, where tens of ms of control-plane time (which the forecast
// does not simulate) swing internal attainment by tens of points.
const IN_FLIGHT = { realtime: 256, internal: 64, batch: 32 };

let system: RunningSystem;
let env: NodeJS.ProcessEnv;
let since: string;
let until: string;
let run: LoadResult;

async function switchyard(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec(process.execPath, [BIN, ...args], { env, cwd: dir, maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`switchyard ${args.join(' ')} failed:\n${stdout}\n${stderr}`, { cause: e });
  }
}

/** The ledger's revenue: every credit to a platform revenue account. */
async function ledgerRevenueMicros(): Promise<number> {
  const [r] = await system.sql<{ revenue: string }[]>`
    SELECT coalesce(sum(amount_micros), 0) AS revenue FROM ledger_entries WHERE account_id LIKE 'platform:revenue:%' AND side = 'credit'`;
  return Number(r!.revenue);
}

beforeAll(async () => {
  system = await startSystem({ pools, workerSpeed: 1, inFlightPerTenant: IN_FLIGHT });
  env = {
    ...process.env,
    SWITCHYARD_ADDR: system.admissionAddress,
    NATS_URL: system.servers.nats.url,
    DATABASE_URL: system.servers.postgres.url,
    POOLS_FILE: system.poolsFile,
  };
  writeFileSync(join(dir, 'keys.txt'), `acme=${system.apiKey}\nglobex=${system.otherApiKey}\n`);
}, 90_000);

afterAll(async () => {
  await system?.stop();
});

describe(`an analyst's run: ${TRACE_S / 60} minutes of the Azure conversation trace at ${SPEED}x`, () => {
  it('replays through admission and writes the result as JSON and a self-contained HTML report', async () => {
    since = new Date().toISOString();
    await switchyard(
      'load',
      '--trace',
      TRACE,
      '--speed',
      String(SPEED),
      '--duration',
      String(TRACE_S / SPEED),
      '--tenants',
      '2',
      '--keys-file',
      'keys.txt',
      '--max-prompt-tokens',
      '8192',
      '--max-output-tokens',
      '2048',
      '--json',
      'run.json',
    );
    run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as LoadResult;
    console.log(
      `load: ${run.all.completed} completed, ${run.all.rejected} refused (${JSON.stringify(run.all.rejectedBy)}), ${run.all.failed} failed; ` +
        (['realtime', 'internal', 'batch'] as const)
          .map((t) => `${t} TTFT p50 ${run.tiers[t]!.ttftMs.p50.toFixed(0)} ms, SLO ${(100 * run.tiers[t]!.sloAttainment).toFixed(1)}%`)
          .join('; '),
    );
    expect(run.all.sent).toBeGreaterThan(TRACE_S * 3);
    // Every request sent ended one way; on two busy cores the scheduler may shed a few realtime ones.
    expect(run.all.completed + run.all.rejected + run.all.failed).toBe(run.all.sent);
    expect(run.all.completed).toBeGreaterThan(0.95 * run.all.sent);
    // Every request has ended; the window closes once billing has posted every usage record.
    const usageRecords = (await (await jetstreamManager(system.nc)).streams.info('USAGE')).state.messages;
    await waitFor('billing posted every usage record of the run', async () => {
      const [r] = await system.sql<{ n: string }[]>`SELECT count(*) AS n FROM ledger_transactions WHERE kind = 'usage'`;
      return Number(r!.n) === usageRecords ? true : undefined;
    });
    until = new Date().toISOString();

    await switchyard('report', 'run.json', '--out', 'report.html');
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).toContain('echarts');
    expect(statSync(join(dir, 'report.html')).size).toBeGreaterThan(100_000);
  });

  it('exports USAGE of the window with one record per completed request, its cost summing to the ledger revenue', async () => {
    const revenue = await ledgerRevenueMicros();
    await switchyard('replay', '--stream', 'USAGE', '--since', since, '--until', until, '--out', 'usage.parquet');
    // Parquet as DuckDB reads it, unchanged.
    const db = await (await DuckDBInstance.create(':memory:')).connect();
    const reader = await db.runAndReadAll(
      `SELECT count(*) FILTER (WHERE outcome = 'completed') AS completed, count(DISTINCT request_id) AS requests, sum(cost_micros) AS cost FROM '${join(dir, 'usage.parquet')}'`,
    );
    const [row] = reader.getRowObjectsJson() as { completed: string; requests: string; cost: string }[];
    expect(Number(row!.completed)).toBe(run.all.completed);
    expect(Number(row!.requests)).toBe(run.all.completed);
    expect(Number(row!.cost)).toBe(revenue);
    console.log(`replay: ${row!.completed} USAGE records, cost ${Number(row!.cost) / 1e6} USD = ledger revenue ${revenue / 1e6} USD`);
  });

  it('rebuilds the ledger from the streams with 0 differences, then names the one transaction deleted by hand', async () => {
    const scratch = async (name: string) => {
      await system.sql.unsafe(`CREATE DATABASE ${name}`);
      const url = new URL(system.servers.postgres.url);
      url.pathname = `/${name}`;
      return url.toString();
    };
    const clean = JSON.parse((await switchyard('ledger', 'rebuild', '--into', await scratch('rebuild_clean'), '--json')).stdout) as {
      ok: boolean;
      diff: { kinds: Record<string, { live: number; rebuilt: number; same: number }>; differences: unknown[] };
    };
    expect(clean.ok).toBe(true);
    expect(clean.diff.differences).toEqual([]);
    const same = Object.values(clean.diff.kinds).reduce((n, k) => n + k.same, 0);
    expect(same).toBeGreaterThanOrEqual(run.all.completed);

    const [victim] = await system.sql<{ id: string; usage_id: string; tenant: string }[]>`
      SELECT id, usage_id, tenant FROM ledger_transactions WHERE kind = 'usage' ORDER BY random() LIMIT 1`;
    await system.sql.begin(async (tx) => {
      await tx`ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only`;
      await tx`ALTER TABLE ledger_transactions DISABLE TRIGGER ledger_transactions_append_only`;
      await tx`DELETE FROM ledger_entries WHERE transaction_id = ${victim!.id}`;
      await tx`DELETE FROM ledger_transactions WHERE id = ${victim!.id}`;
      await tx`ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only`;
      await tx`ALTER TABLE ledger_transactions ENABLE TRIGGER ledger_transactions_append_only`;
    });
    const out = await exec(process.execPath, [BIN, 'ledger', 'rebuild', '--into', await scratch('rebuild_after_delete'), '--json'], { env, cwd: dir }).then(
      () => expect.unreachable('a ledger with a deleted transaction must exit 1'),
      (e: { code: number; stdout: string }) => {
        expect(e.code).toBe(1);
        return JSON.parse(e.stdout) as { ok: boolean; diff: { differences: unknown[] } };
      },
    );
    expect(out.ok).toBe(false);
    expect(out.diff.differences).toEqual([{ type: 'missing_in_live', key: `usage:${victim!.usage_id}`, kind: 'usage', tenant: victim!.tenant }]);
  });

  it('forecasts the recorded window: its 1x row agrees with the measured run within 5% on cost and 5 points on SLO attainment', async () => {
    const { stdout } = await switchyard(
      'forecast',
      '--since',
      since,
      '--until',
      until,
      '--scale',
      '1,2,5',
      '--pools',
      system.poolsFile,
      '--max-prompt-tokens',
      '8192',
      '--tenant-in-flight',
      Object.entries(IN_FLIGHT)
        .map(([t, n]) => `${t}=${n}`)
        .join(','),
      '--max-simulations',
      '30',
      '--json',
      'forecast.json',
    );
    console.log(stdout.split('\n').slice(0, 8).join('\n'));
    const forecast = JSON.parse(readFileSync(join(dir, 'forecast.json'), 'utf8')) as {
      scales: {
        scale: number;
        summary: { requests: number; billMicros: number; tiers: Record<string, { sent: number; attainment: number; ttftP50Ms: number }> };
      }[];
    };
    expect(forecast.scales.map((s) => s.scale)).toEqual([1, 2, 5]);
    const one = forecast.scales[0]!.summary;
    expect(one.requests).toBe(run.all.sent);
    const measuredMicros = run.all.costUsd * 1e6;
    const lines = [`forecast 1x: bill ${(one.billMicros / 1e6).toFixed(4)} USD against ${(measuredMicros / 1e6).toFixed(4)} USD measured`];
    for (const tier of ['realtime', 'internal', 'batch'] as const) {
      const measured = run.tiers[tier]!;
      if (measured.requests === 0) continue;
      const forecastTier = one.tiers[tier]!;
      lines.push(
        `${tier} SLO ${(100 * forecastTier.attainment).toFixed(1)}% forecast, ${(100 * measured.sloAttainment).toFixed(1)}% measured ` +
          `(TTFT p50 ${forecastTier.ttftP50Ms.toFixed(0)} ms forecast, ${measured.ttftMs.p50.toFixed(0)} ms measured)`,
      );
    }
    console.log(lines.join('; '));
    for (const tier of ['realtime', 'internal', 'batch'] as const) {
      expect(one.tiers[tier]!.sent).toBe(run.tiers[tier]!.sent);
      expect(Math.abs(one.tiers[tier]!.attainment - run.tiers[tier]!.sloAttainment)).toBeLessThanOrEqual(0.05);
    }
    expect(Math.abs(one.billMicros - measuredMicros) / measuredMicros).toBeLessThanOrEqual(0.05);
    // The report takes the forecast too: the table and utilisation per pool.
    await switchyard('report', 'run.json', '--forecast', 'forecast.json', '--out', 'report-with-forecast.html');
    expect(readFileSync(join(dir, 'report-with-forecast.html'), 'utf8')).toContain('forecast');
  });
});

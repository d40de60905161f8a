/**
 * Policy.Check on 8 KB prompts: latency inside the service (the handler's own time, as it
 * records it on every decision event) and over the socket (a grpc-js client on loopback),
 * plus the pure scan and the output guard's cost per streamed chunk for reference.
 *
 *   pnpm bench:policy            (or: pnpm exec tsx bench/policy.ts)
 *   BENCH_N=5000 pnpm bench:policy
 *
 * Writes the table to stdout and the figures to bench/results/policy.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { credentials, Metadata } from '@grpc/grpc-js';
import { connectBus, jetstream, openBucket, provisionStreams } from '@switchyard/bus';
import { buckets, CheckTarget, decodeEvent, PolicyServiceClient, streams, type CheckResponse } from '@switchyard/contracts';
import { createPolicy } from '@switchyard/policy';
import { checkText, createOutputGuard, putPolicyDocument, DEFAULT_POLICY, compilePolicy } from '@switchyard/policy-rules';
import { createLogger, Registry } from '@switchyard/telemetry';
import { startNats } from '@switchyard/testing';

// Only the composition root of a script reads the environment.
const N = Number(process.env.BENCH_N ?? 3_000);
const WARMUP = 500;
const CONCURRENCY = 16;
const PROMPT_BYTES = 8 * 1024;

const TENANT_POLICY = {
  version: 'bench-1',
  blockedTopics: ['crypto mining', 'online casino', 'sports betting', { regex: 'weapon(?:s|ry)?\\s+blueprints?', flags: 'i' }],
  customPatterns: [{ id: 'codenames', patterns: ['Project Falcon', 'Bluejay', { regex: 'PRJ-\\d{4}' }] }],
  output: { check: true, actions: { secret: 'block' as const } },
};

const PROSE =
  'The quarterly review covers revenue, hiring and the migration of the billing system to the new ledger. ' +
  'Summarise the main drivers of growth, the risks the finance team flagged, and the next steps for the board. ' +
  'Keep the tone neutral, cite the figures from the appendix, and list open questions at the end. ';
const PII =
  'Contact jane.doe@example.com or call +44 20 7946 0958. Card 4242 4242 4242 4242, IBAN GB82 WEST 1234 5698 7654 32, ' +
  'SSN 123-45-6789, server 10.20.30.40, token ghp_0123456789abcdefghijABCDEFGHIJ012345. ';

function fill(parts: readonly string[]): string {
  let s = '';
  for (let i = 0; s.length < PROMPT_BYTES; i++) s += parts[i % parts.length];
  return s.slice(0, PROMPT_BYTES);
}

const prompts = {
  'clean 8 KB': fill([PROSE]),
  '8 KB with PII every 1 KB': fill([PROSE, PROSE, PROSE, PROSE, PII]),
} as const;

interface Row {
  readonly scenario: string;
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly note?: string;
}

function row(scenario: string, samples: number[], note?: string): Row {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { scenario, n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1]!, note };
}

function printTable(rows: readonly Row[]): void {
  const ms = (x: number) => (x < 0.1 ? x.toFixed(4) : x.toFixed(3)).padStart(8);
  console.log(`\n${'scenario'.padEnd(76)}${'n'.padStart(7)}${'p50 ms'.padStart(9)}${'p90 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}  note`);
  for (const r of rows) console.log(`${r.scenario.padEnd(76)}${String(r.n).padStart(7)} ${ms(r.p50)} ${ms(r.p90)} ${ms(r.p99)} ${ms(r.max)}  ${r.note ?? ''}`);
}

async function main(): Promise<void> {
  const nats = await startNats();
  const nc = await connectBus({ url: nats.url, name: 'bench-policy' });
  const js = jetstream(nc);
  const jsm = await js.jetstreamManager();
  await provisionStreams(jsm, Object.values(streams));
  const kv = await openBucket(nc, buckets.policies);
  await putPolicyDocument(kv, 'tenant', TENANT_POLICY);
  const policy = createPolicy({
    nc,
    logger: createLogger({ service: 'policy', level: 'silent' }),
    listen: '127.0.0.1:0',
    policies: kv,
    registry: new Registry(),
  });
  const client = new PolicyServiceClient(await policy.start(), credentials.createInsecure());
  const rows: Row[] = [];

  let seq = 0;
  const check = (tenant: string, text: string) =>
    new Promise<CheckResponse>((resolve, reject) =>
      client.check({ tenant, requestId: `b${seq++}`, text, target: CheckTarget.CHECK_TARGET_PROMPT, traceparent: '' }, new Metadata(), (e, r) =>
        e ? reject(e) : resolve(r),
      ),
    );

  /** In-service latencies of every check of one tenant, read back from its decision events. */
  const inService = async (tenant: string, expected: number): Promise<number[]> => {
    const subject = `decisions.policy.${tenant}`;
    for (let i = 0; ; i++) {
      const info = await jsm.streams.info(streams.DECISIONS.name, { subjects_filter: subject });
      if ((info.state.subjects?.[subject] ?? 0) >= expected) break;
      if (i > 200) throw new Error(`only ${info.state.subjects?.[subject] ?? 0} of ${expected} decisions arrived`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const consumer = await js.consumers.get(streams.DECISIONS.name, { filter_subjects: subject });
    const out: number[] = [];
    const messages = await consumer.consume();
    for await (const m of messages) {
      const p = decodeEvent(m.data).payload;
      if (p?.$case === 'decision') out.push(p.decision.latencyMs);
      if (out.length >= expected) break;
    }
    return out;
  };

  const cases = [
    { tenant: 'default0', policyName: 'default policy', prompt: 'clean 8 KB' },
    { tenant: 'default1', policyName: 'default policy', prompt: '8 KB with PII every 1 KB' },
    { tenant: 'tenant', policyName: 'tenant policy (topics, patterns)', prompt: '8 KB with PII every 1 KB' },
  ] as const;

  for (const c of cases) {
    const text = prompts[c.prompt];
    for (let i = 0; i < WARMUP; i++) await check(c.tenant, text);
    const socket: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await check(c.tenant, text);
      socket.push(performance.now() - t0);
    }
    const inside = (await inService(c.tenant, WARMUP + N)).slice(WARMUP);
    rows.push(row(`in service: ${c.prompt}, ${c.policyName}`, inside, 'handler latency (decision events)'));
    rows.push(row(`over the socket: ${c.prompt}, ${c.policyName}`, socket, '1 in flight'));
  }

  // Concurrency: what a loaded admission sees.
  {
    const text = prompts['8 KB with PII every 1 KB'];
    const samples: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < N) {
          const t0 = performance.now();
          await check('tenant', text);
          samples.push(performance.now() - t0);
        }
      }),
    );
    const perSec = Math.round((samples.length / (performance.now() - started)) * 1_000);
    rows.push(row(`over the socket: 8 KB with PII, ${CONCURRENCY} in flight`, samples, `${perSec} checks/s`));
  }

  // Reference: the pure scan alone, and the output guard per streamed chunk.
  {
    const tenantPolicy = compilePolicy(TENANT_POLICY);
    for (const [name, text] of Object.entries(prompts)) {
      for (let i = 0; i < WARMUP; i++) checkText(text, DEFAULT_POLICY);
      const samples: number[] = [];
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        checkText(text, DEFAULT_POLICY);
        samples.push(performance.now() - t0);
      }
      rows.push(row(`checkText only: ${name}, default policy`, samples, 'no gRPC, no lookup'));
    }
    const output = prompts['clean 8 KB'];
    const samples: number[] = [];
    for (let round = 0; round < 5; round++) {
      const guard = createOutputGuard(tenantPolicy);
      for (let i = 0; i < output.length; i += 5) {
        const t0 = performance.now();
        guard.push(output.slice(i, i + 5));
        samples.push(performance.now() - t0);
      }
      guard.end();
    }
    rows.push(row('output guard: one 5-char chunk, tenant output rules', samples.slice(1_000), 'per token on the relay'));
  }

  printTable(rows);
  console.log(`\n${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}; target: in-service p99 <= 2 ms on 8 KB prompts`);
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/policy.json', import.meta.url), JSON.stringify({ at: new Date().toISOString(), n: N, rows }, null, 2));

  client.close();
  await policy.stop();
  await nc.close();
  await nats.dispose();
}

await main();

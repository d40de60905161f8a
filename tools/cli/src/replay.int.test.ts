import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectBus, ensureDurable, jetstream, jetstreamManager, openBucket, provisionStreams, publishEvent, type NatsConnection } from '@switchyard/bus';
import { buckets, makeEvent, Outcome, streams, subjects, Tier, type UsageRecorded } from '@switchyard/contracts';
import { DEFAULT_PRICE_BOOK, type PriceBook } from '@switchyard/pricing';
import { startNats, type TestServer } from '@switchyard/testing';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLAY_COLUMNS } from './domain/replay-columns.js';
import { replayExport } from './replay.js';

let nats: TestServer;
let nc: NatsConnection;
let dir: string;
/** Stream-time marks: before the first batch, between the batches, after the last. */
let t0: number;
let t1: number;
let t2: number;

/** v2 doubles the 8B model's prices from EFFECTIVE on (by usage time, not by when it is read). */
const EFFECTIVE = Date.UTC(2030, 0, 1);
const V2: PriceBook = {
  ...DEFAULT_PRICE_BOOK,
  version: 'v2',
  effectiveFromUnixMs: EFFECTIVE,
  models: { ...DEFAULT_PRICE_BOOK.models, 'llama-3.1-8b': { inputPer1k: 400, cachedInputPer1k: 100, outputPer1k: 1_200 } },
};

const usage = (i: number, tenant: string, over: Partial<UsageRecorded> = {}): UsageRecorded => ({
  usageId: `u${i}`,
  requestId: `r${i}`,
  tenant,
  feature: 'chat',
  model: 'llama-3.1-8b',
  tier: Tier.TIER_REALTIME,
  pool: 'gpu-a',
  workerId: 'w0',
  usage: { inputTokens: 1_000, cachedInputTokens: 0, outputTokens: 500 },
  gpuMs: 100 + i,
  queueMs: 1,
  ttftMs: 20,
  totalMs: 150,
  outcome: Outcome.OUTCOME_COMPLETED,
  ...over,
});

const publishUsage = (u: UsageRecorded, atMs: number) =>
  publishEvent(
    jetstream(nc),
    subjects.usageRecorded(u.tenant),
    makeEvent({ id: `e-${u.usageId}`, tenant: u.tenant, requestId: u.requestId, nowMs: atMs }, { $case: 'usageRecorded', usageRecorded: u }),
  );

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'cli-replay-test' });
  const jsm = await jetstreamManager(nc);
  await provisionStreams(jsm, Object.values(streams));
  // Billing's catalog as it publishes it; the replay prices each row by its own time.
  const kv = await openBucket(nc, buckets.pricebook);
  for (const b of [DEFAULT_PRICE_BOOK, V2]) await kv.put(b.version, JSON.stringify(b));
  // A service's durable consumer, which a replay must leave as it was.
  await ensureDurable(jsm, { stream: streams.USAGE.name, durable: 'metering', filterSubject: 'usage.recorded.>' });
  dir = mkdtempSync(join(tmpdir(), 'replay-'));

  t0 = Date.now();
  await sleep(20);
  // Batch one: acme completed before v2, acme completed after v2, acme failed, globex batch-tier completed.
  await publishUsage(usage(1, 'acme'), EFFECTIVE - 60_000);
  await publishUsage(usage(2, 'acme'), EFFECTIVE + 60_000);
  await publishUsage(usage(3, 'acme', { outcome: Outcome.OUTCOME_FAILED }), EFFECTIVE - 60_000);
  await publishUsage(usage(4, 'globex', { tier: Tier.TIER_BATCH }), EFFECTIVE - 60_000);
  const js = jetstream(nc);
  await publishEvent(
    js,
    subjects.requestTerminated('completed', 'acme'),
    makeEvent(
      { id: 'term-1', tenant: 'acme', requestId: 'r1', nowMs: EFFECTIVE },
      {
        $case: 'requestTerminated',
        requestTerminated: {
          requestId: 'r1',
          tenant: 'acme',
          outcome: Outcome.OUTCOME_COMPLETED,
          reason: '',
          pool: 'gpu-a',
          workerId: 'w0',
          attempt: 1,
          usage: { inputTokens: 1_000, cachedInputTokens: 0, outputTokens: 500 },
          retryAfterMs: 0,
          chunkCount: 9,
          tier: Tier.TIER_REALTIME,
          model: 'llama-3.1-8b',
          feature: 'chat',
          finishReason: 'length',
        },
      },
    ),
  );
  await publishEvent(
    js,
    subjects.decision('scheduler', 'acme'),
    makeEvent(
      { id: 'dec-1', tenant: 'acme', requestId: 'r1', nowMs: EFFECTIVE },
      {
        $case: 'decision',
        decision: {
          service: 'scheduler',
          action: 'place',
          reason: 'least loaded',
          chosen: 'gpu-a',
          candidates: [],
          categories: [],
          ruleIds: [],
          policyVersion: '',
          latencyMs: 0.4,
          user: '',
        },
      },
    ),
  );
  await publishEvent(
    js,
    subjects.requestAdmitted('realtime', 'acme'),
    makeEvent(
      { id: 'adm-1', tenant: 'acme', requestId: 'r1', nowMs: EFFECTIVE },
      {
        $case: 'requestAdmitted',
        requestAdmitted: {
          request: {
            requestId: 'r1',
            tenant: 'acme',
            tier: Tier.TIER_REALTIME,
            model: 'llama-3.1-8b',
            prompt: 'the secret prompt',
            promptTokens: 1_000,
            maxTokens: 500,
            feature: 'chat',
            seed: 0,
            inbox: '',
            deadlineUnixMs: 0,
            admittedUnixMs: EFFECTIVE,
            relayInbox: '',
            stop: [],
            replacedFrom: '',
            prefixHashes: [],
            prefixBlockTokens: 0,
            traceparent: '',
          },
        },
      },
    ),
  );
  await sleep(20);
  t1 = Date.now();
  await sleep(20);
  // Batch two: one more acme usage, outside a window that ends at t1.
  await publishUsage(usage(5, 'acme'), EFFECTIVE + 120_000);
  await sleep(20);
  t2 = Date.now();
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const iso = (ms: number) => new Date(ms).toISOString();
const bin = new URL('../bin/switchyard.js', import.meta.url).pathname;

/** Runs the real `switchyard` command against this file's NATS; never throws. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { env: { ...process.env, NATS_URL: nats.url } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const ndjson = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** A writable that keeps what is written, for the notes a replay prints. */
const capture = () => {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, text: () => text };
};

describe('switchyard replay', () => {
  it('writes one ndjson row per usage record of the window to stdout, priced by the version in force at its time', async () => {
    const r = await run('replay', '--stream', 'USAGE', '--since', iso(t0), '--until', iso(t1));
    expect(r.code).toBe(0);
    const rows = ndjson(r.stdout);
    expect(rows.map((x) => x.usage_id)).toEqual(['u1', 'u2', 'u3', 'u4']);
    const by = Object.fromEntries(rows.map((x) => [x.usage_id, x]));
    // 1000 in × 200 + 500 out × 600 per 1k = 500 µ under v1; v2 doubles it; batch halves it; a failure is free.
    expect(by.u1).toMatchObject({
      tenant: 'acme',
      tier: 'realtime',
      model: 'llama-3.1-8b',
      feature: 'chat',
      pool: 'gpu-a',
      outcome: 'completed',
      input_tokens: 1000,
      output_tokens: 500,
      gpu_ms: 101,
      billable: true,
      cost_micros: 500,
      price_version: 'v1',
    });
    expect(by.u2).toMatchObject({ cost_micros: 1000, price_version: 'v2' });
    expect(by.u3).toMatchObject({ outcome: 'failed', billable: false, cost_micros: 0, gpu_ms: 103 });
    expect(by.u4).toMatchObject({ tenant: 'globex', tier: 'batch', cost_micros: 250 });
    expect(by.u1!.time).toBe(iso(EFFECTIVE - 60_000));
    expect(Object.keys(by.u1!)).toEqual(REPLAY_COLUMNS.USAGE.map((c) => c.name));
    // Notes go to stderr, so stdout holds rows only.
    expect(r.stderr).toMatch(/replay: 4 USAGE rows between/);
  });

  it('exports Parquet that a Parquet reader reads back with every column and row', async () => {
    const file = join(dir, 'usage.parquet');
    const err = capture();
    const result = await replayExport({ nc, stderr: err.stream }, { stream: 'USAGE', since: iso(t0), until: iso(t2), out: file, rowGroupRows: 2 });
    expect(result).toMatchObject({ rows: 5, read: 5, undecodable: 0 });
    const buf = readFileSync(file);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const meta = parquetMetadata(ab);
    expect(Number(meta.num_rows)).toBe(5);
    expect(meta.row_groups).toHaveLength(3); // row groups of 2 rows: written as the rows came
    expect(meta.schema.slice(1).map((s) => s.name)).toEqual(REPLAY_COLUMNS.USAGE.map((c) => c.name));
    const rows = (await parquetReadObjects({ file: ab })) as Record<string, unknown>[];
    expect(rows.map((x) => x.usage_id)).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
    expect(rows[0]).toMatchObject({ tenant: 'acme', billable: true, cost_micros: 500n, input_tokens: 1000, gpu_ms: 101, price_version: 'v1' });
    expect((rows[0]!.time as Date).toISOString()).toBe(iso(EFFECTIVE - 60_000));
    expect(rows.reduce((s, x) => s + Number(x.cost_micros), 0)).toBe(500 + 1000 + 0 + 250 + 1000);
  });

  it('writes CSV with a header, to a file', async () => {
    const file = join(dir, 'usage.csv');
    expect(await run('replay', '--stream', 'usage', '--since', iso(t0), '--until', iso(t1), '--out', file)).toMatchObject({ code: 0 });
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(REPLAY_COLUMNS.USAGE.map((c) => c.name).join(','));
    expect(lines).toHaveLength(5);
    expect(lines[1]).toContain(`${iso(EFFECTIVE - 60_000)},USAGE,usage.recorded.acme,e-u1,r1,acme,u1,realtime`);
  });

  it('leaves out events after --until, and reads to the end without it', async () => {
    expect(ndjson((await run('replay', '--stream', 'USAGE', '--since', iso(t1))).stdout).map((x) => x.usage_id)).toEqual(['u5']);
    expect(ndjson((await run('replay', '--stream', 'USAGE', '--since', '1h')).stdout)).toHaveLength(5);
  });

  it("keeps only one tenant's events with --tenant", async () => {
    const r = await run('replay', '--stream', 'USAGE', '--since', iso(t0), '--tenant', 'globex');
    expect(ndjson(r.stdout).map((x) => x.usage_id)).toEqual(['u4']);
  });

  it('flattens LIFECYCLE, DECISIONS and REQUESTS, never with the prompt', async () => {
    const [life] = ndjson((await run('replay', '--stream', 'LIFECYCLE', '--since', iso(t0))).stdout);
    expect(life).toMatchObject({
      subject: 'requests.completed.acme',
      outcome: 'completed',
      finish_reason: 'length',
      tier: 'realtime',
      model: 'llama-3.1-8b',
      pool: 'gpu-a',
      chunk_count: 9,
      output_tokens: 500,
    });
    const [dec] = ndjson((await run('replay', '--stream', 'DECISIONS', '--since', iso(t0), '--tenant', 'acme')).stdout);
    expect(dec).toMatchObject({ service: 'scheduler', action: 'place', chosen: 'gpu-a', reason: 'least loaded', tenant: 'acme' });
    const req = await run('replay', '--stream', 'REQUESTS', '--since', iso(t0));
    expect(ndjson(req.stdout)).toEqual([
      expect.objectContaining({ kind: 'admitted', tier: 'realtime', model: 'llama-3.1-8b', prompt_tokens: 1000, max_tokens: 500 }),
    ]);
    expect(req.stdout).not.toContain('secret');
  });

  it('says which streams exist for an unknown one, and which forms a time takes, without a stack trace', async () => {
    const unknown = await run('replay', '--stream', 'USAGES', '--since', '1h');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('switchyard: unknown stream USAGES; streams: USAGE, LIFECYCLE, DECISIONS, REQUESTS, BILLING');
    const badTime = await run('replay', '--stream', 'USAGE', '--since', 'yesterday');
    expect(badTime.code).toBe(1);
    expect(badTime.stderr).toMatch(/^switchyard: --since "yesterday" is not a time: give an ISO time/);
    expect(badTime.stderr).not.toMatch(/\n\s+at /);
    const parquetToStdout = await run('replay', '--stream', 'USAGE', '--since', '1h', '--format', 'parquet');
    expect(parquetToStdout).toMatchObject({ code: 1, stderr: expect.stringMatching(/--format parquet needs --out FILE/) });
    const badOut = await run('replay', '--stream', 'USAGE', '--since', '1h', '--out', join(dir, 'no', 'such.csv'));
    expect(badOut).toMatchObject({ code: 1, stderr: expect.stringMatching(/^switchyard: cannot write --out .*no\/such\.csv: ENOENT/) });
  });

  it('says an empty window is empty, exits 0 and leaves an empty but valid file', async () => {
    const file = join(dir, 'empty.parquet');
    const r = await run('replay', '--stream', 'USAGE', '--since', '2001-01-01', '--until', '2001-01-02', '--out', file);
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe('replay: no events in USAGE between 2001-01-01T00:00:00.000Z and 2001-01-02T00:00:00.000Z');
    const buf = readFileSync(file);
    expect(Number(parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)).num_rows)).toBe(0);
    const tenantless = await run('replay', '--stream', 'USAGE', '--since', iso(t0), '--tenant', 'nobody');
    expect(tenantless).toMatchObject({ code: 0, stdout: '' });
    expect(tenantless.stderr).toMatch(/no events in USAGE of tenant nobody between/);
  });

  it('creates no consumer that outlives it and leaves durable consumers where they were', async () => {
    const jsm = await jetstreamManager(nc);
    const before = await jsm.consumers.info(streams.USAGE.name, 'metering');
    await replayExport({ nc, stderr: capture().stream }, { stream: 'USAGE', since: iso(t0), out: join(dir, 'again.ndjson') });
    const names: string[] = [];
    for (const s of ['USAGE', 'LIFECYCLE', 'DECISIONS', 'REQUESTS', 'BILLING']) for await (const c of jsm.consumers.list(s)) names.push(`${s}/${c.name}`);
    expect(names).toEqual(['USAGE/metering']);
    const after = await jsm.consumers.info(streams.USAGE.name, 'metering');
    expect(after.delivered).toEqual(before.delivered);
    expect(after.num_pending).toBe(before.num_pending);
  });
});

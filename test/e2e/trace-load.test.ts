import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grpcCaller, httpCaller, loadCommand, parseTrace, runLoad, type LoadResult, type LoadOptions } from '@switchyard/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

let system: RunningSystem;
const dir = mkdtempSync(join(tmpdir(), 'trace-load-'));

/** 40 rows over 4 s of trace: two tenants, every tier, prompts of 20 to 800 tokens. */
const TIERS = ['realtime', 'internal', 'batch'] as const;
const traceText = [
  'timestamp,input_tokens,output_tokens,tenant,tier',
  ...Array.from({ length: 40 }, (_, i) => `${i * 100},${20 + ((i * 97) % 780)},${1 + ((i * 13) % 24)},${i % 2 ? 'acme' : 'globex'},${TIERS[i % 3]}`),
].join('\n');

beforeAll(async () => {
  system = await startSystem();
}, 60_000);

afterAll(async () => {
  await system?.stop();
});

const options = (protocol: 'grpc' | 'http'): LoadOptions => ({
  trace: parseTrace(traceText),
  traceFile: 'inline',
  protocol,
  model: 'llama-3.1-8b',
  speed: 4,
  tierMix: { realtime: 1, internal: 1, batch: 1 },
  seed: 1,
  maxInFlight: 2_000,
  maxPromptTokens: 32_768,
  maxOutputTokens: 4_096,
  timeoutMs: 60_000,
  sloTtftMs: { realtime: 1_000, internal: 5_000, batch: 600_000 },
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function expectAccounted(result: LoadResult) {
  expect(result.plan.requests).toBe(40);
  expect(result.records).toHaveLength(40);
  for (const tier of TIERS) {
    const t = result.tiers[tier]!;
    expect(t.requests).toBeGreaterThan(0);
    expect(t.sent).toBe(t.completed + t.rejected + t.failed);
    expect(t.sent + t.dropped).toBe(t.requests);
  }
  expect(result.all.sent).toBe(result.all.completed + result.all.rejected + result.all.failed);
  expect(result.all.completed).toBeGreaterThan(0);
  // The system counted each completed prompt within a token or two of the trace's size.
  for (const r of result.records.filter((x) => x.outcome === 'completed')) {
    expect(Math.abs(r.inputTokens - r.promptTokens)).toBeLessThanOrEqual(2);
    expect(r.ttftMs).toBeGreaterThanOrEqual(0);
    expect(r.e2eMs).toBeGreaterThanOrEqual(r.ttftMs!);
  }
  expect(result.all.costUsd).toBeGreaterThan(0);
}

describe('switchyard load --trace replays a trace through admission', () => {
  it('over gRPC as two tenants, writing the whole result as JSON', async () => {
    const keys = join(dir, 'keys.txt');
    writeFileSync(keys, `acme=${system.apiKey}\nglobex=${system.otherApiKey}\n`);
    const trace = join(dir, 'trace.csv');
    writeFileSync(trace, traceText);
    const json = join(dir, 'result.json');
    const env = { SWITCHYARD_ADDR: system.admissionAddress, SWITCHYARD_HTTP_URL: system.httpUrl };
    await loadCommand(
      {
        trace,
        speed: 4,
        tenants: 2,
        keysFile: keys,
        model: 'llama-3.1-8b',
        seed: 1,
        maxInFlight: 2_000,
        maxPromptTokens: 32_768,
        maxOutputTokens: 4_096,
        timeoutMs: 60_000,
        json,
      },
      env,
    );
    const result = JSON.parse(readFileSync(json, 'utf8')) as LoadResult;
    expectAccounted(result);
    expect(result.trace).toEqual({ file: trace, format: 'generic-csv', rows: 40 });
    expect(new Set(result.records.map((r) => r.tenant))).toEqual(new Set(['acme', 'globex']));
    expect(result.records[0]).toMatchObject({ index: 0, line: 2, tier: 'realtime', tenant: 'globex' });
  });

  it('over the OpenAI-compatible HTTP facade', async () => {
    const now = () => Date.now();
    const result = await runLoad(options('http'), { callers: { acme: httpCaller(system.httpUrl, system.apiKey, now) }, now, sleep });
    expectAccounted(result);
    expect(result.options.protocol).toBe('http');
  });

  it('counts requests over --max-in-flight as dropped by the load generator', async () => {
    const now = () => Date.now();
    const caller = grpcCaller(system.admissionAddress, system.apiKey, now);
    try {
      const result = await runLoad({ ...options('grpc'), speed: 1_000, maxInFlight: 5 }, { callers: { acme: caller }, now, sleep });
      expect(result.all.dropped).toBeGreaterThan(0);
      expect(result.all.sent + result.all.dropped).toBe(40);
      expect(Object.keys(result.all.failedBy).some((why) => why.startsWith('dropped by the load generator'))).toBe(true);
    } finally {
      caller.close();
    }
  });
});

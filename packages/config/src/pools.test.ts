import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { poolsFileSchema, poolUpstreams, loadPoolsFile } from './pools.js';

describe('pools file', () => {
  it('loads the shipped deploy/pools.yaml with defaults filled in', () => {
    const pools = loadPoolsFile(fileURLToPath(new URL('../../../deploy/pools.yaml', import.meta.url)));
    expect(pools.length).toBeGreaterThanOrEqual(2);
    expect(pools[0]!.tiers).toEqual(['realtime', 'internal', 'batch']);
    expect(pools[0]!.slotsPerWorker).toBe(32);
  });

  it('keeps the commented-out provider example of deploy/pools.yaml valid once uncommented', () => {
    const text = readFileSync(fileURLToPath(new URL('../../../deploy/pools.yaml', import.meta.url)), 'utf8');
    const from = text.indexOf('  # - id: azure-eastus-oai-8b');
    expect(from).toBeGreaterThan(0);
    const uncommented = text.slice(0, from) + text.slice(from).replace(/^  # /gm, '  ');
    const example = poolsFileSchema.parse(parse(uncommented)).pools.at(-1)!;
    expect(example).toMatchObject({ id: 'azure-eastus-oai-8b', kind: 'provider', tokenPrices: { inputPerMillion: 0.3 } });
    expect(example.pricePerGpuHour).toBeUndefined();
  });

  it('loads deploy/pools.engines.yaml: the shipped pools plus one engine, scraped at its /metrics', () => {
    const pools = loadPoolsFile(fileURLToPath(new URL('../../../deploy/pools.engines.yaml', import.meta.url)));
    const engine = pools.find((p) => p.kind === 'openai-compatible')!;
    expect(engine.id).toBe('local-vllm-8b');
    expect(poolUpstreams(engine)).toEqual([{ baseUrl: 'http://127.0.0.1:8000/v1', metricsUrl: 'http://127.0.0.1:8000/metrics' }]);
    expect(pools.filter((p) => p.kind === 'simulated').length).toBeGreaterThanOrEqual(4);
  });

  it('takes one engine or several behind a pool, with as many workers, and scrapes providers only when asked', () => {
    const pool = {
      id: 'v',
      kind: 'openai-compatible',
      provider: 'onprem',
      region: 'r',
      gpu: 'h100-80gb',
      model: 'llama-3.1-8b',
      workers: 2,
      capacityClass: 'reserved',
      pricePerGpuHour: 1,
    };
    const two = { baseUrls: ['http://vllm-0:8000/v1', 'http://vllm-1:8000/v1'] };
    const ok = poolsFileSchema.parse({ pools: [{ ...pool, endpoint: two }] }).pools[0]!;
    expect(poolUpstreams(ok).map((u) => u.metricsUrl)).toEqual(['http://vllm-0:8000/metrics', 'http://vllm-1:8000/metrics']);
    const issues = (p: object) => poolsFileSchema.safeParse({ pools: [p] }).error?.issues.map((i) => i.message) ?? [];
    expect(issues({ ...pool, workers: 1, endpoint: two })).toEqual([
      'pool v lists 2 engine(s) in its endpoint; set workers: 2 (the scheduler predicts from it)',
    ]);
    expect(issues({ ...pool, endpoint: { ...two, baseUrl: 'http://x/v1' } })[0]).toMatch(/either baseUrl or baseUrls/);
    expect(issues({ ...pool, endpoint: { ...two, metricsUrl: 'http://x/metrics' } })[0]).toMatch(/metricsUrl goes with a single baseUrl/);
    const provider = { ...pool, kind: 'provider', workers: 1, pricePerGpuHour: undefined, tokenPrices: { inputPerMillion: 1, outputPerMillion: 2 } };
    const p = poolsFileSchema.parse({ pools: [{ ...provider, endpoint: { baseUrl: 'https://api.example.com/v1' } }] }).pools[0]!;
    expect(poolUpstreams(p)).toEqual([{ baseUrl: 'https://api.example.com/v1' }]);
  });

  it('rejects duplicate ids and unknown GPUs with the field named', () => {
    const pool = { id: 'a', provider: 'aws', region: 'r', gpu: 'h100-80gb', model: 'llama-3.1-8b', workers: 1, capacityClass: 'spot', pricePerGpuHour: 1 };
    expect(poolsFileSchema.safeParse({ pools: [pool, pool] }).success).toBe(false);
    const bad = poolsFileSchema.safeParse({ pools: [{ ...pool, gpu: 'a100' }] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['pools', 0, 'gpu']);
  });

  it('defaults kind to simulated and needs an endpoint for real engines, with clear errors', () => {
    const pool = { id: 'a', provider: 'aws', region: 'r', gpu: 'h100-80gb', model: 'llama-3.1-8b', workers: 1, capacityClass: 'spot', pricePerGpuHour: 1 };
    expect(poolsFileSchema.parse({ pools: [pool] }).pools[0]!.kind).toBe('simulated');
    const noEndpoint = poolsFileSchema.safeParse({ pools: [{ ...pool, kind: 'openai-compatible' }] });
    expect(noEndpoint.error?.issues[0]?.message).toMatch(/needs an endpoint/);
    const unknown = poolsFileSchema.safeParse({ pools: [{ ...pool, kind: 'tpu' }] });
    expect(unknown.error?.issues[0]?.message).toMatch(/kind must be one of simulated, openai-compatible, provider/);
    const keyInFile = poolsFileSchema.safeParse({
      pools: [{ ...pool, kind: 'openai-compatible', endpoint: { baseUrl: 'https://x/v1', apiKeyEnv: 'sk-abc123' } }],
    });
    expect(keyInFile.error?.issues[0]?.message).toMatch(/names an environment variable/);
    const ok = poolsFileSchema.parse({ pools: [{ ...pool, kind: 'openai-compatible', endpoint: { baseUrl: 'https://x/v1', apiKeyEnv: 'AZURE_KEY' } }] });
    expect(ok.pools[0]!.endpoint).toMatchObject({ concurrency: 16, firstTokenTimeoutMs: 30_000, idleTimeoutMs: 30_000 });
  });
});

describe('pool prices', () => {
  const base = { id: 'a', provider: 'azure', region: 'r', gpu: 'h100-80gb', model: 'llama-3.1-8b', workers: 1, capacityClass: 'on-demand' };
  const endpoint = { baseUrl: 'https://x/v1', apiKeyEnv: 'AZURE_KEY' };
  const tokenPrices = { inputPerMillion: 2.5, outputPerMillion: 10 };
  const messages = (pools: unknown[]) => (poolsFileSchema.safeParse({ pools }).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

  it('prices a provider pool per token, without a GPU-hour price', () => {
    const parsed = poolsFileSchema.parse({ pools: [{ ...base, kind: 'provider', endpoint, tokenPrices }] }).pools[0]!;
    expect(parsed.tokenPrices).toEqual(tokenPrices);
    expect(parsed.pricePerGpuHour).toBeUndefined();
  });

  it('tells a provider pool without token prices, or with a GPU-hour price, what to change', () => {
    expect(messages([{ ...base, kind: 'provider', endpoint }])).toEqual([
      'pools.0.tokenPrices: pool a is a provider pool, priced per token: set tokenPrices (inputPerMillion, outputPerMillion, optional cachedInputPerMillion)',
    ]);
    expect(messages([{ ...base, kind: 'provider', endpoint, tokenPrices, pricePerGpuHour: 4 }])).toEqual([
      "pools.0.pricePerGpuHour: pool a is a provider pool, priced per token: remove pricePerGpuHour (its GPUs are not the platform's)",
    ]);
  });

  it('needs a GPU-hour price and no token prices on simulated and self-hosted pools', () => {
    expect(messages([{ ...base }])).toEqual(["pools.0.pricePerGpuHour: pool a of kind simulated runs on the platform's GPUs: set pricePerGpuHour"]);
    expect(messages([{ ...base, kind: 'openai-compatible', endpoint, pricePerGpuHour: 4, tokenPrices }])).toEqual([
      'pools.0.tokenPrices: pool a of kind openai-compatible is priced per GPU-hour: remove tokenPrices, or make it kind provider',
    ]);
  });

  it('refuses negative or misspelt token prices with the field named', () => {
    expect(messages([{ ...base, kind: 'provider', endpoint, tokenPrices: { inputPerMillion: -1, outputPerMillion: 10 } }])[0]).toMatch(
      /^pools\.0\.tokenPrices\.inputPerMillion: /,
    );
    expect(messages([{ ...base, kind: 'provider', endpoint, tokenPrices: { ...tokenPrices, cachedPerMillion: 1 } }])[0]).toMatch(/cachedPerMillion/);
  });
});

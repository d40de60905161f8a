import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { poolsFileSchema, loadPoolsFile } from './pools.js';

describe('pools file', () => {
  it('loads the shipped deploy/pools.yaml with defaults filled in', () => {
    const pools = loadPoolsFile(fileURLToPath(new URL('../../../deploy/pools.yaml', import.meta.url)));
    expect(pools.length).toBeGreaterThanOrEqual(2);
    expect(pools[0]!.tiers).toEqual(['realtime', 'internal', 'batch']);
    expect(pools[0]!.slotsPerWorker).toBe(32);
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
    const keyInFile = poolsFileSchema.safeParse({ pools: [{ ...pool, kind: 'provider', endpoint: { baseUrl: 'https://x/v1', apiKeyEnv: 'sk-abc123' } }] });
    expect(keyInFile.error?.issues[0]?.message).toMatch(/names an environment variable/);
    const ok = poolsFileSchema.parse({ pools: [{ ...pool, kind: 'provider', endpoint: { baseUrl: 'https://x/v1', apiKeyEnv: 'AZURE_KEY' } }] });
    expect(ok.pools[0]!.endpoint).toMatchObject({ concurrency: 16, firstTokenTimeoutMs: 30_000, idleTimeoutMs: 30_000 });
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectBus, openBucket, type KV, type NatsConnection } from '@switchyard/bus';
import { buckets, isDomainError } from '@switchyard/contracts';
import { startNats, type TestServer } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getPolicy, setPolicy } from './policy.js';

let nats: TestServer;
let nc: NatsConnection;
let kv: KV;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectBus({ url: nats.url, name: 'cli-test' });
  kv = await openBucket(nc, buckets.policies);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await nats?.dispose();
});

const code = (e: unknown) => (isDomainError(e) ? e.code : e);

describe('switchyard policy', () => {
  it('stores a valid policy and shows it back', async () => {
    expect((await getPolicy(kv, 'acme')).note).toMatch(/default \(default-v1\) applies/);
    expect(await setPolicy(kv, 'acme', JSON.stringify({ version: 'v1', blockedTopics: ['crypto mining'] }))).toMatch(/policy v1 stored/);
    expect(JSON.parse((await getPolicy(kv, 'acme')).json!)).toEqual({ version: 'v1', blockedTopics: ['crypto mining'] });
  });

  it('refuses invalid documents and new content under a stored version, writing nothing', async () => {
    await expect(setPolicy(kv, 'acme', '{"version":"v2","actions":{"email":"shred"}}').catch(code)).resolves.toBe('INVALID_ARGUMENT');
    await expect(setPolicy(kv, 'acme', JSON.stringify({ version: 'v1', blockedTopics: ['casino'] })).catch(code)).resolves.toBe('FAILED_PRECONDITION');
    await expect(setPolicy(kv, 'acme.*', JSON.stringify({ version: 'v1' })).catch(code)).resolves.toBe('INVALID_ARGUMENT');
    expect(JSON.parse((await getPolicy(kv, 'acme')).json!).version).toBe('v1');
    // The same document again is harmless.
    await expect(setPolicy(kv, 'acme', JSON.stringify({ version: 'v1', blockedTopics: ['crypto mining'] }))).resolves.toMatch(/stored/);
  });

  it('works from the command line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-policy-'));
    const file = join(dir, 'globex.json');
    writeFileSync(file, JSON.stringify({ version: 'g1', output: { check: true } }));
    const bin = new URL('../bin/switchyard.js', import.meta.url).pathname;
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [bin, 'policy', ...args, '--nats', nats.url]);
    expect((await run('set', 'globex', file)).stdout).toMatch(/tenant globex: policy g1 stored/);
    expect(JSON.parse((await run('get', 'globex')).stdout)).toEqual({ version: 'g1', output: { check: true } });
    expect((await run('delete', 'globex')).stdout).toMatch(/default \(default-v1\) applies/);
    expect((await run('get', 'globex')).stderr).toMatch(/has no policy/);
  }, 30_000);
});

import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const bin = (name: string) => join(root, 'node_modules/.bin', name);

/**
 * The house rules `pnpm check` enforces, run on a small tree laid out like this repo, with
 * the repo's own dependency-cruiser and Prettier configs: each rule must fail on the
 * violation it exists for, and pass on the same tree without it.
 */
let tree: string;

function write(path: string, text: string) {
  mkdirSync(dirname(join(tree, path)), { recursive: true });
  writeFileSync(join(tree, path), text);
}

async function depcruise(): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(bin('depcruise'), ['--config', '.dependency-cruiser.cjs', 'services'], { cwd: tree });
    return { ok: true, output: stdout };
  } catch (e) {
    return { ok: false, output: String((e as { stdout?: string }).stdout) };
  }
}

beforeAll(() => {
  tree = mkdtempSync(join(tmpdir(), 'house-rules-'));
  cpSync(join(root, '.dependency-cruiser.cjs'), join(tree, '.dependency-cruiser.cjs'));
  cpSync(join(root, '.prettierrc.json'), join(tree, '.prettierrc.json'));
  write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', allowImportingTsExtensions: true } }));
  write('services/shop/src/domain/price.ts', 'export const price = (n: number): number => n * 2;\n');
  write('services/shop/src/edge.ts', "import { price } from './domain/price.ts';\n\nexport const served = price(1);\n");
  write('services/till/src/edge.ts', 'export const till = 1;\n');
});
afterAll(() => rmSync(tree, { recursive: true, force: true }));

describe('pnpm check', () => {
  it('passes a tree that keeps the rules', async () => {
    const result = await depcruise();
    expect(result.output).toContain('no dependency violations');
    expect(result.ok).toBe(true);
  });

  it('fails when a service imports another service', async () => {
    write('services/till/src/bad.ts', "import { served } from '../../shop/src/edge.ts';\n\nexport const bad = served;\n");
    try {
      const result = await depcruise();
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/no-service-imports-service: services\/till\/src\/bad\.ts → services\/shop\/src\/edge\.ts/);
    } finally {
      rmSync(join(tree, 'services/till/src/bad.ts'));
    }
  });

  it('fails when a domain file imports an I/O library or runs edge code', async () => {
    write(
      'services/shop/src/domain/leak.ts',
      "import { readFileSync } from 'node:fs';\nimport { served } from '../edge.ts';\n\nexport const leak = [readFileSync, served];\n",
    );
    try {
      const result = await depcruise();
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/pure-domain-has-no-io: services\/shop\/src\/domain\/leak\.ts → (node:)?fs/);
      expect(result.output).toMatch(/domain-imports-only-domain: services\/shop\/src\/domain\/leak\.ts → services\/shop\/src\/edge\.ts/);
    } finally {
      rmSync(join(tree, 'services/shop/src/domain/leak.ts'));
    }
  });

  it('fails on unformatted code', async () => {
    write('services/shop/src/ugly.ts', 'export const   ugly = {a:1,\n\n\n   b:2}\n');
    const check = run(bin('prettier'), ['--check', 'services/shop/src/ugly.ts'], { cwd: tree });
    await expect(check).rejects.toMatchObject({ code: 1 });
    await run(bin('prettier'), ['--write', 'services/shop/src/ugly.ts'], { cwd: tree });
    await expect(run(bin('prettier'), ['--check', 'services/shop/src/ugly.ts'], { cwd: tree })).resolves.toBeDefined();
  });
});

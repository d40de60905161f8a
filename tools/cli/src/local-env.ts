import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Settings `switchyard up` writes for the CLI and for people: `.switchyard/local.env`. */
export interface LocalEnv {
  SWITCHYARD_ADDR: string;
  SWITCHYARD_API_KEY: string;
  SWITCHYARD_BILLING_ADDR: string;
  SWITCHYARD_HTTP_URL: string;
  /** The pools file the running system reads (`up --pools`), for the CLI's pool views. */
  SWITCHYARD_POOLS_FILE: string;
}

export const LOCAL_ENV_PATH = join('.switchyard', 'local.env');

/** Finds `.switchyard/local.env` in `from` or a parent directory. */
export function findLocalEnv(from = process.cwd()): string | undefined {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const candidate = join(dir, LOCAL_ENV_PATH);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

export function readLocalEnv(path: string): Partial<LocalEnv> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function writeLocalEnv(root: string, env: LocalEnv): string {
  const path = join(root, LOCAL_ENV_PATH);
  mkdirSync(dirname(path), { recursive: true });
  const body = Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  writeFileSync(path, `# Written by \`switchyard up\`; read by the switchyard CLI. Local development only.\n${body}\n`, { mode: 0o600 });
  return path;
}

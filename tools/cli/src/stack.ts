import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSwitchyardClient } from '@switchyard/sdk';
import { bundlePath, buildServices } from './build.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Start order: answerers before askers, consumers before producers. */
export const SERVICES = ['policy', 'billing', 'metering', 'worker-simulator', 'batcher', 'scheduler', 'admission'] as const;
export type ServiceName = (typeof SERVICES)[number];

/**
 * V8 heap settings for every service. Old space grows to at most twice the live heap before a
 * full collection: with V8's own growth (up to 4x) admission reached 213-240 MB resident after
 * saturation with ~40 MB live; with 2x, 160-190 MB (1.3x kept it at 138 MB for ~20% more CPU).
 * The young generation keeps V8's default of 16 MB: 8 MB cost ~5% throughput, 4 MB ~15%;
 * 32 MB gained nothing measurable for ~30 MB more per service. Stack traces point into the
 * TypeScript sources (source maps cost only when a stack is printed).
 */
export const NODE_FLAGS = ['--heap-growing-percent=100', '--enable-source-maps'];

/**
 * Services off the token path: they consume durable streams, so when the cores are busy they
 * can fall behind and catch up without anyone waiting. Sharing a host with the request path,
 * they run at a lower CPU priority (nice 10), so a first token never queues behind a ledger
 * batch. Compose gives them the same lower `cpu_shares`.
 */
const BACKGROUND_SERVICES: ReadonlySet<ServiceName> = new Set(['metering', 'billing']);
const BACKGROUND_NICE = 10;

export interface Stack {
  readonly children: ReadonlyMap<ServiceName, ChildProcess>;
  /** SIGTERM every service and wait for them to exit. */
  stop(): Promise<void>;
}

/**
 * Compiles every service (services/<name>/dist/main.mjs), then starts each as its own process
 * with `env`, logs appended to `<logDir>/<name>.log`. `onExit` hears of a service that dies.
 */
export async function startStack(env: NodeJS.ProcessEnv, logDir: string, onExit: (name: ServiceName, code: number | null, signal: string | null) => void): Promise<Stack> {
  mkdirSync(logDir, { recursive: true });
  await buildServices(REPO_ROOT, SERVICES);
  const children = new Map<ServiceName, ChildProcess>();
  let stopping = false;
  for (const name of SERVICES) {
    const out = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    // SWITCHYARD_PROFILE=admission,batcher writes V8 CPU profiles of those services on exit.
    const profiled = (env.SWITCHYARD_PROFILE ?? '').split(',').includes(name);
    const profile = profiled ? ['--cpu-prof', `--cpu-prof-dir=${join(logDir, 'profiles')}`] : [];
    // SWITCHYARD_NODE_FLAGS adds V8/Node flags to every service (tuning experiments).
    const extra = (env.SWITCHYARD_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...profile, ...NODE_FLAGS, ...extra, bundlePath(REPO_ROOT, name)], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (BACKGROUND_SERVICES.has(name) && child.pid) setPriority(child.pid, BACKGROUND_NICE);
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.once('exit', (code, signal) => {
      if (!stopping) onExit(name, code, signal);
    });
    children.set(name, child);
  }
  return {
    children,
    async stop() {
      stopping = true;
      await Promise.all(
        [...children.values()].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/** Retries a real Complete call until the pipeline answers end to end; returns its text. */
export async function firstServedRequest(address: string, apiKey: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const client = createSwitchyardClient({ address, apiKey });
  try {
    for (;;) {
      try {
        const r = await client.complete({ model: 'llama-3.2-1b', prompt: 'warm-up', maxTokens: 4, timeoutMs: 10_000 });
        return r.text;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`Switchyard did not serve a request within ${timeoutMs / 1000} s; see the service logs`, { cause: e });
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    client.close();
  }
}

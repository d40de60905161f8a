import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createSwitchyardClient } from '@switchyard/sdk';
import { bundlePath, buildServices } from './build.js';
import { replicaEnv, replicasOf, type Replica, type Scale } from './replicas.js';
import { DEFAULT_RESTART_POLICY, decideRestart, type RestartDecision, type RestartPolicy } from './restart-policy.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Start order: answerers before askers, consumers before producers. */
export const SERVICES = ['policy', 'billing', 'metering', 'worker-simulator', 'batcher', 'scheduler', 'admission', 'batch'] as const;
/** Started only when the pools file has pools of real engines (kind `openai-compatible` or `provider`). */
export const ENGINE_ADAPTER = 'engine-adapter';
export type ServiceName = (typeof SERVICES)[number] | typeof ENGINE_ADAPTER;

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

/** How long `stop()` waits for a service to shut down on SIGTERM before it sends SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

export interface Stack {
  /** Each service's current process (its first replica when scaled): a restart replaces its entry. */
  readonly children: ReadonlyMap<ServiceName, ChildProcess>;
  /** Every replica's current process by its label (`worker-simulator-2`; the service's name when it runs once). */
  readonly replicas: ReadonlyMap<string, ChildProcess>;
  /** SIGTERM every service and wait for them to exit; nothing is restarted from then on. */
  stop(): Promise<void>;
}

/** A service's process exited while the stack was not stopping. */
export interface ServiceExit {
  readonly name: ServiceName;
  /** Which process of the service: its label is `name` when the service runs once, else `name-i`. */
  readonly replica: Replica;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** How long the process had run. */
  readonly upForMs: number;
  /** When it will be started again; undefined when restarts are off. */
  readonly restart: RestartDecision | undefined;
}

export interface StackOptions {
  /** How a service that exits on its own is restarted; false leaves it down. Default {@link DEFAULT_RESTART_POLICY}. */
  readonly restart?: RestartPolicy | false;
  /** A service was started again after an exit; `child` is its new process. */
  readonly onRestart?: (name: ServiceName, child: ChildProcess, crashes: number, replica: Replica) => void;
  /** Services to run, in start order. Default `SERVICES`. */
  readonly services?: readonly ServiceName[];
  /**
   * Processes per service (`{ 'worker-simulator': 3 }`); one each by default. Replica i listens on
   * its service's ports moved by (i - 1) * 100 (replicas.ts) and logs to `<logDir>/<name>-<i>.log`.
   */
  readonly scale?: Scale;
  /** Each line a replica writes to stdout or stderr, as it comes (the log files get them too). */
  readonly onLine?: (replica: Replica, line: string) => void;
}

/**
 * Compiles every service (services/<name>/dist/main.mjs), then starts each as its own process
 * (or `scale` of them) with `env`, logs appended to `<logDir>/<label>.log`, and supervises them:
 * a process that exits while the stack is not stopping is restarted with backoff (see
 * restart-policy.ts), each replica on its own, so one crash does not take the others down.
 * `onExit` hears of every such exit, before the restart; exits and restarts are also appended
 * to the replica's log.
 */
export async function startStack(
  env: NodeJS.ProcessEnv,
  logDir: string,
  onExit: (name: ServiceName, code: number | null, signal: string | null, exit: ServiceExit) => void,
  options: StackOptions = {},
): Promise<Stack> {
  mkdirSync(logDir, { recursive: true });
  const services = options.services ?? SERVICES;
  await buildServices(REPO_ROOT, services);
  const policy = options.restart === undefined ? DEFAULT_RESTART_POLICY : options.restart;
  const children = new Map<ServiceName, ChildProcess>();
  const replicas = new Map<string, ChildProcess>();
  const logs = new Map<string, WriteStream>();
  const closed = new WeakMap<ChildProcess, Promise<void>>();
  const pendingRestarts = new Set<NodeJS.Timeout>();
  let stopping = false;
  // SWITCHYARD_PROFILE=admission,batcher writes V8 CPU profiles of those services on exit.
  const profiled = (env.SWITCHYARD_PROFILE ?? '').split(',');
  // SWITCHYARD_NODE_FLAGS adds V8/Node flags to every service (tuning experiments).
  const extra = (env.SWITCHYARD_NODE_FLAGS ?? '').split(' ').filter(Boolean);

  const spawnService = (replica: Replica, crashesBefore: number): ChildProcess => {
    const name = replica.service as ServiceName;
    const out = logs.get(replica.label)!;
    const profile = profiled.includes(name) ? ['--cpu-prof', `--cpu-prof-dir=${join(logDir, 'profiles')}`] : [];
    const child = spawn(process.execPath, [...profile, ...NODE_FLAGS, ...extra, bundlePath(REPO_ROOT, name)], {
      cwd: REPO_ROOT,
      env: replicaEnv(env, replica.index),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const startedAt = performance.now();
    if (BACKGROUND_SERVICES.has(name) && child.pid) setPriority(child.pid, BACKGROUND_NICE);
    // The log outlives each process: a restarted service appends to the same file.
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    if (options.onLine) {
      for (const stream of [child.stdout, child.stderr]) {
        if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => options.onLine!(replica, line));
      }
    }
    let exited = false;
    const exitedWith = (code: number | null, signal: NodeJS.Signals | null) => {
      if (exited || stopping) return;
      exited = true;
      const upForMs = performance.now() - startedAt;
      const restart = policy ? decideRestart(crashesBefore, upForMs, policy) : undefined;
      const next = restart ? `restarting in ${restart.delayMs} ms${restart.crashes > 1 ? ` (crash ${restart.crashes} in a row)` : ''}` : 'not restarting';
      supervisorLine(out, `${replica.label} exited (code ${code}, signal ${signal}) after ${(upForMs / 1000).toFixed(1)} s; ${next}`);
      onExit(name, code, signal, { name, replica, code, signal, upForMs, restart });
      if (!restart) return;
      const timer = setTimeout(() => {
        pendingRestarts.delete(timer);
        if (stopping) return;
        const replacement = spawnService(replica, restart.crashes);
        track(replica, replacement);
        supervisorLine(out, `${replica.label} restarted (pid ${replacement.pid})`);
        options.onRestart?.(name, replacement, restart.crashes, replica);
      }, restart.delayMs);
      pendingRestarts.add(timer);
    };
    // 'close' comes after the process's last output reached its log, so the supervisor's line follows it.
    closed.set(child, new Promise((resolve) => child.once('close', (code, signal) => (exitedWith(code, signal), resolve()))));
    // A process that could not be spawned emits 'error' (and no 'exit'); so may a failed kill.
    child.on('error', (e) => {
      if (child.pid !== undefined) return;
      supervisorLine(out, `${replica.label} could not be started: ${e.message}`);
      exitedWith(null, null);
    });
    return child;
  };

  const track = (replica: Replica, child: ChildProcess) => {
    replicas.set(replica.label, child);
    if (replica.index === 1) children.set(replica.service as ServiceName, child);
  };
  for (const replica of replicasOf(services, options.scale ?? {})) {
    logs.set(replica.label, createWriteStream(join(logDir, `${replica.label}.log`), { flags: 'a' }));
    track(replica, spawnService(replica, 0));
  }
  return {
    children,
    replicas,
    async stop() {
      stopping = true;
      pendingRestarts.forEach(clearTimeout);
      pendingRestarts.clear();
      await Promise.all(
        [...replicas.values()].map(async (c) => {
          if (c.pid === undefined) return;
          c.kill('SIGTERM');
          // A service stuck in its shutdown must not keep the stack from stopping.
          const stuck = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await closed.get(c);
          clearTimeout(stuck);
        }),
      );
      await Promise.all([...logs.values()].map((out) => new Promise<void>((resolve) => out.end(resolve))));
    },
  };
}

/** A line from the supervisor, in the service's own log, so its history reads in one place. */
function supervisorLine(out: WriteStream, line: string): void {
  out.write(`${JSON.stringify({ time: Date.now(), msg: `switchyard: ${line}` })}\n`);
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

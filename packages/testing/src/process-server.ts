import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';

/** The kernel's ephemeral range (source ports of outgoing connections); Linux's default where it cannot be read. */
function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && high) return { low, high };
  } catch {
    // Not Linux: the default below.
  }
  return { low: 32_768, high: 60_999 };
}

const listensOn = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * A free loopback port below the kernel's ephemeral range. A port the kernel hands out for
 * `listen(0)` comes from that range, and while a test's server is down (killed, about to be
 * restarted on its port) any outgoing connection on the machine may take it as its source
 * port: the cluster chaos test's restarted node then failed with "address already in use".
 */
export async function freePort(): Promise<number> {
  const { low } = ephemeralRange();
  const from = Math.min(10_000, low - 1_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (await listensOn(port)) return port;
  }
  throw new Error(`no free loopback port between ${from} and ${low - 1} after 100 tries`);
}

export interface ProcessServerSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Output line that says the server accepts connections. */
  readonly readyPattern: RegExp;
  readonly spawnOptions?: SpawnOptions;
  /** Default 20 s. */
  readonly startTimeoutMs?: number;
  /** Hears everything the server writes (stdout and stderr), from its first line. */
  readonly onOutput?: (text: string) => void;
  /** Where the server keeps its data, so `restart({ withoutData: true })` can empty it. Default none. */
  readonly dataDir?: string;
}

export interface RestartOptions {
  /** Empties the data directory before starting again: the server comes back knowing nothing. Default false. */
  readonly withoutData?: boolean;
}

/** How a process ended: its exit code, or the signal that ended it. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A server process the test (or `switchyard up`) owns: it can be stopped, killed and restarted. */
export interface ProcessServer {
  readonly pid: number | undefined;
  /** SIGTERM and wait for exit. */
  stop(): Promise<ProcessExit>;
  /** SIGKILL and wait for exit: a crash, for chaos tests. */
  kill(): Promise<ProcessExit>;
  /** Sends `signal` and waits for exit (at once if it already exited). */
  signal(signal: NodeJS.Signals): Promise<ProcessExit>;
  /**
   * Stops the server (SIGTERM) if it still runs and starts the same command again on the same
   * port, with its data or, `withoutData`, with an empty data directory.
   */
  restart(options?: RestartOptions): Promise<void>;
}

function launch(spec: ProcessServerSpec): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(spec.command, [...spec.args], { stdio: ['ignore', 'pipe', 'pipe'], ...spec.spawnOptions });
    if (spec.onOutput) {
      const hear = (chunk: Buffer) => spec.onOutput!(chunk.toString());
      child.stdout?.on('data', hear);
      child.stderr?.on('data', hear);
    }
    let output = '';
    const timer = setTimeout(() => fail(new Error(`${spec.name} did not start within ${spec.startTimeoutMs ?? 20_000} ms`)), spec.startTimeoutMs ?? 20_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${e.message}\n--- ${spec.name} output ---\n${output.slice(-2000)}`));
    };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (spec.readyPattern.test(output)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        // Keep draining so a chatty server never blocks on a full pipe.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('error', (e) => fail(new Error(`${spec.name} could not be started (${spec.command}): ${e.message}`)));
    child.on('exit', (code, signal) => {
      if (!spec.readyPattern.test(output)) fail(new Error(`${spec.name} exited early (code ${code}, signal ${signal})`));
    });
  });
}

function waitExit(child: ChildProcess, signal: NodeJS.Signals): Promise<ProcessExit> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
    child.kill(signal);
  });
}

/** Starts a server process and resolves once it prints its ready line. */
export async function startProcessServer(spec: ProcessServerSpec): Promise<ProcessServer> {
  let child = await launch(spec);
  return {
    get pid() {
      return child.pid;
    },
    stop: () => waitExit(child, 'SIGTERM'),
    kill: () => waitExit(child, 'SIGKILL'),
    signal: (signal) => waitExit(child, signal),
    async restart(options = {}) {
      await waitExit(child, 'SIGTERM');
      if (options.withoutData) {
        if (!spec.dataDir) throw new Error(`${spec.name} has no data directory to empty`);
        for (const entry of readdirSync(spec.dataDir)) rmSync(join(spec.dataDir, entry), { recursive: true, force: true });
      }
      child = await launch(spec);
    },
  };
}

import { fileURLToPath } from 'node:url';
import { startProcessServer, type ProcessExit } from './process-server.js';
import { waitFor } from './wait-for.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Run by path, never imported: a package may not depend on a service. */
const ENTRY = 'services/worker-simulator/src/engine-main.ts';

/** The JSON `POST /admin/faults` takes (see the worker simulator's README, Engine mode). */
export interface EngineSimulatorFaults {
  readonly status?: number;
  readonly retryAfterS?: number;
  readonly cutAfterTokens?: number;
  readonly hang?: boolean;
  readonly fraction?: number;
}

/** Settings of the simulated engine; each maps to an `ENGINE_*` variable and has its default. */
export interface EngineSimulatorProcessOptions {
  /** Default `llama-3.2-1b` (the fastest profile). */
  readonly model?: 'llama-3.2-1b' | 'llama-3.1-8b' | 'llama-3.1-70b-tp4';
  /** Default `h100-80gb`. */
  readonly gpu?: 'h100-80gb' | 'h200-141gb';
  readonly servedModelNames?: readonly string[];
  /** Default 32. */
  readonly slots?: number;
  readonly maxBatchTokens?: number;
  /** Simulated time per real time. Default `max`: tokens come as fast as the host makes them. */
  readonly speed?: number | 'max';
  readonly apiKey?: string;
  /** Opens /admin/faults. Default true: tests set faults at runtime. */
  readonly faultsEnabled?: boolean;
  /** Faults in force from the start. */
  readonly faults?: EngineSimulatorFaults;
}

export interface EngineSimulatorProcess {
  /** Base URL up to and including `/v1`. */
  readonly baseUrl: string;
  readonly metricsUrl: string;
  readonly pid: number | undefined;
  /** Replaces the faults in force (needs `faultsEnabled`). */
  setFaults(faults: EngineSimulatorFaults): Promise<void>;
  clearFaults(): Promise<void>;
  /** Sends `signal` (default SIGKILL, a crash) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<ProcessExit>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<ProcessExit>;
}

/**
 * Runs the worker simulator's engine mode (`engine-main.ts`) as its own OS process on a free
 * loopback port: an OpenAI-compatible endpoint with vLLM's `/metrics`, for tests of clients of a
 * real engine. Resolves once `/health` answers.
 */
export async function startEngineSimulatorProcess(options: EngineSimulatorProcessOptions = {}): Promise<EngineSimulatorProcess> {
  let output = '';
  const env: Record<string, string> = {
    // The ready line, which says where the server listens, is logged at info.
    LOG_LEVEL: 'info',
    // Port 0: the kernel picks, and the ready line says which, so no other process can take it first.
    ENGINE_LISTEN: '127.0.0.1:0',
    ENGINE_MODEL: options.model ?? 'llama-3.2-1b',
    ENGINE_GPU: options.gpu ?? 'h100-80gb',
    ENGINE_SERVED_MODEL_NAME: (options.servedModelNames ?? []).join(','),
    ENGINE_SLOTS: String(options.slots ?? 32),
    ENGINE_SPEED: String(options.speed ?? 'max'),
    ENGINE_FAULTS: options.faultsEnabled === false ? 'off' : 'on',
    ENGINE_INITIAL_FAULTS: JSON.stringify(options.faults ?? {}),
    ...(options.maxBatchTokens ? { ENGINE_MAX_BATCH_TOKENS: String(options.maxBatchTokens) } : {}),
    ...(options.apiKey ? { ENGINE_API_KEY: options.apiKey } : {}),
  };
  const child = await startProcessServer({
    name: 'engine-simulator',
    command: process.execPath,
    args: ['--import', 'tsx', ENTRY],
    readyPattern: /"msg":"engine-simulator started"/,
    spawnOptions: { cwd: ROOT, env: { ...process.env, ...env } },
    startTimeoutMs: 30_000,
    onOutput: (text) => void (output.length < 64 * 1024 && (output += text)),
  });
  const baseUrl = /"baseUrl":"([^"]+)"/.exec(output)?.[1];
  const metricsUrl = /"metricsUrl":"([^"]+)"/.exec(output)?.[1];
  if (!baseUrl || !metricsUrl) {
    await child.kill();
    throw new Error(`engine-simulator did not say where it listens:\n${output.slice(-2000)}`);
  }
  const origin = new URL(baseUrl).origin;
  await waitFor('engine-simulator /health', async () => ((await fetch(`${origin}/health`)).ok ? true : undefined), 15_000);
  const auth: Record<string, string> = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  const admin = async (method: 'POST' | 'DELETE', body?: EngineSimulatorFaults) => {
    const res = await fetch(`${origin}/admin/faults`, {
      method,
      headers: { 'content-type': 'application/json', ...auth },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`engine-simulator refused ${method} /admin/faults: HTTP ${res.status} ${await res.text()}`);
  };
  return {
    baseUrl,
    metricsUrl,
    pid: child.pid,
    setFaults: (faults) => admin('POST', faults),
    clearFaults: () => admin('DELETE'),
    kill: (signal = 'SIGKILL') => child.signal(signal),
    stop: () => child.stop(),
  };
}

import { join, resolve } from 'node:path';
import { generateApiKey, hashApiKey } from '@switchyard/auth';
import { loadPoolsFile, poolKind } from '@switchyard/config';
import { batchServiceEnv } from './batch-env.js';
import { ensureInfra, portOpen } from './infra.js';
import { findLocalEnv, readLocalEnv, writeLocalEnv } from './local-env.js';
import { REPLICA_PORT_STEP, parseScale, replicasOf, type Scale } from './replicas.js';
import { DEFAULT_RESTART_POLICY } from './restart-policy.js';
import { ENGINE_ADAPTER, REPO_ROOT, SERVICES, firstServedRequest, startStack, type ServiceName } from './stack.js';

export interface UpOptions {
  readonly admissionPort: number;
  readonly policyPort: number;
  readonly billingPort: number;
  readonly httpPort: number;
  /** gRPC and HTTP ports of the batch service (Files and Batches API). */
  readonly batchPort: number;
  readonly batchHttpPort: number;
  /** The scheduler's live console (HTTP `/console`). */
  readonly consolePort: number;
  /** Stop after the first served request (for start-up measurements). */
  readonly exitAfterFirstRequest?: boolean;
  /** The pools file every service reads. Default deploy/pools.yaml. */
  readonly poolsFile?: string;
  /** `--scale name=N` values, as given: processes per service (one each by default). */
  readonly scale?: readonly string[];
  /** Print every service's log lines here too, prefixed `<name> |`. Default true. */
  readonly logs?: boolean;
}

/**
 * Brings the whole system up on this machine: servers, then every service as its own
 * process (logs in `.switchyard/logs`), then proves it serves with one real request.
 */
export async function up(options: UpOptions): Promise<void> {
  const t0 = performance.now();
  const log = (line: string) => console.log(`switchyard: ${line}`);
  const poolsFile = resolve(options.poolsFile ?? join(REPO_ROOT, 'deploy', 'pools.yaml'));
  // Read before anything starts, so a broken pools file is reported, not a crashing fleet.
  const pools = loadPoolsFile(poolsFile);
  const engines = pools.filter((p) => poolKind(p) !== 'simulated');
  const services: ServiceName[] = engines.length > 0 ? [...SERVICES, ENGINE_ADAPTER] : [...SERVICES];
  const scale = parseScale(options.scale ?? [], services);
  for (const port of listenPorts(options, scale)) {
    if (await portOpen(port)) throw new Error(`port ${port} is taken: is Switchyard already running? Stop it, or pass other ports`);
  }
  if (engines.length > 0) log(`pools of real engines (${engines.map((p) => p.id).join(', ')}): starting the engine adapter too`);
  const infra = await ensureInfra(REPO_ROOT, log);
  const existing = findLocalEnv(REPO_ROOT);
  const apiKey = (existing && readLocalEnv(existing).SWITCHYARD_API_KEY) || generateApiKey();
  const admissionAddr = `127.0.0.1:${options.admissionPort}`;
  const billingAddr = `127.0.0.1:${options.billingPort}`;
  const httpUrl = `http://127.0.0.1:${options.httpPort}/v1`;
  const envPath = writeLocalEnv(REPO_ROOT, {
    SWITCHYARD_ADDR: admissionAddr,
    SWITCHYARD_API_KEY: apiKey,
    SWITCHYARD_BILLING_ADDR: billingAddr,
    SWITCHYARD_HTTP_URL: httpUrl,
    SWITCHYARD_POOLS_FILE: poolsFile,
  });

  const batch = batchServiceEnv({ admissionHttp: options.httpPort, batchGrpc: options.batchPort, batchHttp: options.batchHttpPort });
  const logDir = join(REPO_ROOT, '.switchyard', 'logs');
  const env = {
    ...process.env,
    NATS_URL: infra.natsUrl,
    REDIS_URL: infra.redisUrl,
    DATABASE_URL: infra.databaseUrl,
    API_KEYS: `dev:dev-1:${hashApiKey(apiKey)},${batch.apiKeyEntry}`,
    ADMISSION_LISTEN: admissionAddr,
    HTTP_LISTEN: `127.0.0.1:${options.httpPort}`,
    POLICY_LISTEN: `127.0.0.1:${options.policyPort}`,
    POLICY_ADDR: `127.0.0.1:${options.policyPort}`,
    BILLING_LISTEN: billingAddr,
    CONSOLE_LISTEN: `127.0.0.1:${options.consolePort}`,
    POOLS_FILE: poolsFile,
    ...batch.env,
    EXIT_WITH_PARENT: 'true',
  };
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log('stopping services');
    await stack.stop();
    await infra.stop();
    process.exit(code);
  };
  // Log lines of every process, prefixed as compose does, labels padded to one width.
  const width = Math.max(...replicasOf(services, scale).map((r) => r.label.length));
  const onLine = options.logs === false ? undefined : (replica: { label: string }, line: string) => console.log(`${replica.label.padEnd(width)} | ${line}`);
  // A process that dies is restarted with backoff (stack.ts); the others keep serving meanwhile.
  const stack = await startStack(
    env,
    logDir,
    (_name, code, signal, exit) => {
      const again = exit.restart
        ? `restarting in ${(exit.restart.delayMs / 1000).toFixed(2)} s${exit.restart.crashes > 1 ? ` (crash ${exit.restart.crashes} in a row)` : ''}`
        : 'not restarting';
      const label = exit.replica.label;
      log(`${label} exited (code ${code}, signal ${signal}) after ${(exit.upForMs / 1000).toFixed(1)} s; ${again}; see .switchyard/logs/${label}.log`);
    },
    { onRestart: (_name, child, _crashes, replica) => log(`${replica.label} restarted (pid ${child.pid})`), services, scale, onLine },
  ).catch(async (e: unknown) => {
    // The services did not compile: stop the servers this command started before giving up.
    await infra.stop();
    throw e;
  });
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const first = await firstServedRequest(admissionAddr, apiKey).catch(async (e: unknown) => {
    // Never served: stop what this command started rather than leave it running unattended.
    stopping = true;
    await stack.stop();
    await infra.stop();
    throw e;
  });
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`
Switchyard is up (first request served ${seconds} s after start: "${first}").

  gRPC admission   ${admissionAddr}
  OpenAI HTTP      ${httpUrl}
  gRPC billing     ${billingAddr}
  gRPC batch       127.0.0.1:${options.batchPort}   (Files and Batches also at ${httpUrl}/files, /batches)
  live console     http://127.0.0.1:${options.consolePort}/console   (any key reads; drains need an operator key: switchyard key create --tenant ops --operator)
  API key          ${apiKey}   (tenant "dev"; also in ${envPath})
  logs             .switchyard/logs/<service>.log (<service>-<i>.log for a scaled one)${replicaLines(options, scale)}

Try it:
  pnpm exec switchyard generate --prompt "hello"
  curl ${httpUrl}/chat/completions -H "authorization: Bearer ${apiKey}" -H 'content-type: application/json' \\
    -d '{"model":"llama-3.1-8b","messages":[{"role":"user","content":"hello"}],"max_tokens":16}'

A service that exits is restarted (after ${DEFAULT_RESTART_POLICY.initialDelayMs} ms, doubling to ${DEFAULT_RESTART_POLICY.maxDelayMs / 1000} s while it keeps crashing); Ctrl-C stops every service${infra.started.length ? ` and the servers started here (${infra.started.join(', ')})` : ''}.`);
  if (options.exitAfterFirstRequest) await stopAll(0);
}

/** Every port a process of this run will listen on: each service's, and each extra replica's moved copies. */
function listenPorts(options: UpOptions, scale: Scale): number[] {
  const ports: Array<[string, number]> = [
    ['admission', options.admissionPort],
    ['admission', options.httpPort],
    ['policy', options.policyPort],
    ['billing', options.billingPort],
    ['batch', options.batchPort],
    ['batch', options.batchHttpPort],
    ['scheduler', options.consolePort],
  ];
  return ports.flatMap(([service, port]) => Array.from({ length: scale[service] ?? 1 }, (_, i) => port + i * REPLICA_PORT_STEP));
}

/** Where the replicas beyond the first listen, and how many processes each scaled service runs. */
function replicaLines(options: UpOptions, scale: Scale): string {
  const lines = Object.entries(scale)
    .filter(([, n]) => n > 1)
    .map(([service, n]) => {
      const at = (i: number, port: number) => port + (i - 1) * REPLICA_PORT_STEP;
      const where = (i: number) => {
        if (service === 'admission') return `gRPC 127.0.0.1:${at(i, options.admissionPort)}, HTTP http://127.0.0.1:${at(i, options.httpPort)}/v1`;
        if (service === 'billing') return `gRPC 127.0.0.1:${at(i, options.billingPort)}`;
        if (service === 'batch') return `gRPC 127.0.0.1:${at(i, options.batchPort)}, HTTP 127.0.0.1:${at(i, options.batchHttpPort)}`;
        if (service === 'scheduler') return `console http://127.0.0.1:${at(i, options.consolePort)}/console`;
        return undefined;
      };
      const listening = Array.from({ length: n - 1 }, (_, k) => k + 2)
        .map((i) => (where(i) ? `\n                     ${service}-${i}: ${where(i)}` : ''))
        .join('');
      return `\n  ${service.padEnd(16)} ${n} processes (${service}-1 .. ${service}-${n})${listening}`;
    });
  return lines.join('');
}

import { join, resolve } from 'node:path';
import { generateApiKey, hashApiKey } from '@switchyard/auth';
import { loadPoolsFile, poolKind } from '@switchyard/config';
import { batchServiceEnv } from './batch-env.js';
import { ensureInfra, portOpen } from './infra.js';
import { findLocalEnv, readLocalEnv, writeLocalEnv } from './local-env.js';
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
  /** Stop after the first served request (for start-up measurements). */
  readonly exitAfterFirstRequest?: boolean;
  /** The pools file every service reads. Default deploy/pools.yaml. */
  readonly poolsFile?: string;
}

/**
 * Brings the whole system up on this machine: servers, then every service as its own
 * process (logs in `.switchyard/logs`), then proves it serves with one real request.
 */
export async function up(options: UpOptions): Promise<void> {
  const t0 = performance.now();
  const log = (line: string) => console.log(`switchyard: ${line}`);
  for (const port of [options.admissionPort, options.policyPort, options.billingPort, options.httpPort, options.batchPort, options.batchHttpPort]) {
    if (await portOpen(port)) throw new Error(`port ${port} is taken: is Switchyard already running? Stop it, or pass other ports`);
  }
  const poolsFile = resolve(options.poolsFile ?? join(REPO_ROOT, 'deploy', 'pools.yaml'));
  // Read before anything starts, so a broken pools file is reported, not a crashing fleet.
  const pools = loadPoolsFile(poolsFile);
  const engines = pools.filter((p) => poolKind(p) !== 'simulated');
  const services: ServiceName[] = engines.length > 0 ? [...SERVICES, ENGINE_ADAPTER] : [...SERVICES];
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
  // A service that dies is restarted with backoff (stack.ts); the others keep serving meanwhile.
  const stack = await startStack(
    env,
    logDir,
    (name, code, signal, exit) => {
      const again = exit.restart
        ? `restarting in ${(exit.restart.delayMs / 1000).toFixed(2)} s${exit.restart.crashes > 1 ? ` (crash ${exit.restart.crashes} in a row)` : ''}`
        : 'not restarting';
      log(`${name} exited (code ${code}, signal ${signal}) after ${(exit.upForMs / 1000).toFixed(1)} s; ${again}; see .switchyard/logs/${name}.log`);
    },
    { onRestart: (name, child) => log(`${name} restarted (pid ${child.pid})`), services },
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
  API key          ${apiKey}   (tenant "dev"; also in ${envPath})
  logs             .switchyard/logs/<service>.log

Try it:
  pnpm exec switchyard generate --prompt "hello"
  curl ${httpUrl}/chat/completions -H "authorization: Bearer ${apiKey}" -H 'content-type: application/json' \\
    -d '{"model":"llama-3.1-8b","messages":[{"role":"user","content":"hello"}],"max_tokens":16}'

A service that exits is restarted (after ${DEFAULT_RESTART_POLICY.initialDelayMs} ms, doubling to ${DEFAULT_RESTART_POLICY.maxDelayMs / 1000} s while it keeps crashing); Ctrl-C stops every service${infra.started.length ? ` and the servers started here (${infra.started.join(', ')})` : ''}.`);
  if (options.exitAfterFirstRequest) await stopAll(0);
}

import { fileURLToPath } from 'node:url';
import { startProcessServer, type ProcessServer } from '@switchyard/testing';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type ServiceName = 'admission' | 'policy' | 'scheduler' | 'batcher' | 'worker-simulator' | 'engine-adapter' | 'metering' | 'billing' | 'batch';

/**
 * Runs a service as its own OS process (`node --import tsx services/<name>/src/main.ts`), as
 * `switchyard up` does, so chaos tests can `kill -9` it and start it again.
 */
export function startServiceProcess(name: ServiceName, env: Record<string, string>): Promise<ProcessServer> {
  return startProcessServer({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', `services/${name}/src/main.ts`],
    readyPattern: new RegExp(`"msg":"${name} started"`),
    spawnOptions: { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...env } },
    startTimeoutMs: 30_000,
  });
}

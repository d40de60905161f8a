import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { freePort } from '@switchyard/testing';

/** Starts the Portkey AI gateway (a dev dependency) headless on a free port. */
export async function startPortkey(): Promise<{ url: string; pid: number; stop(): void }> {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('@portkey-ai/gateway/build/start-server.js');
  const port = await freePort();
  const child = spawn(process.execPath, [entry, `--port=${port}`, '--headless'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('portkey did not start within 20 s')), 20_000);
    const onData = (chunk: Buffer) => {
      if (/running at|Ready for connections/i.test(chunk.toString())) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`portkey exited with ${code}`)));
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return { url: `http://127.0.0.1:${port}/v1`, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

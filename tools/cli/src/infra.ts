import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import postgres from 'postgres';
import { startNats, startPostgres, startRedis, type TestServer } from '@switchyard/testing';

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => (socket.destroy(), resolve(open));
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface Infra {
  readonly natsUrl: string;
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** Servers this process started (and stops); those already running are left alone. */
  readonly started: string[];
  stop(): Promise<void>;
}

const DEFAULTS = { nats: 4222, redis: 6379, postgres: 5432 } as const;

/**
 * Uses NATS, Redis and PostgreSQL on their default local ports when they answer, and
 * otherwise starts them on loopback with data under `.switchyard/data`.
 */
export async function ensureInfra(root: string, log: (line: string) => void): Promise<Infra> {
  const owned: TestServer[] = [];
  const started: string[] = [];
  const dataDir = (name: string) => {
    const dir = join(root, '.switchyard', 'data', name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const use = async (name: keyof typeof DEFAULTS, start: (o: { port: number; dataDir: string }) => Promise<TestServer>, url: string) => {
    if (await portOpen(DEFAULTS[name])) {
      log(`using ${name} already running on 127.0.0.1:${DEFAULTS[name]}`);
      return url;
    }
    log(`starting ${name} on 127.0.0.1:${DEFAULTS[name]}`);
    const server = await start({ port: DEFAULTS[name], dataDir: dataDir(name) });
    owned.push(server);
    started.push(name);
    return server.url;
  };
  const natsUrl = await use('nats', (o) => startNats(o, {}), 'nats://127.0.0.1:4222');
  const redisUrl = await use('redis', (o) => startRedis(o, {}), 'redis://127.0.0.1:6379');
  const serverUrl = await use('postgres', (o) => startPostgres(o, {}), 'postgres://postgres@127.0.0.1:5432/postgres');
  const databaseUrl = await ensureDatabase(serverUrl, 'switchyard');
  return {
    natsUrl,
    redisUrl,
    databaseUrl,
    started,
    async stop() {
      for (const s of owned.reverse()) await s.dispose().catch(() => {});
    },
  };
}

async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    const [exists] = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (!exists) await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

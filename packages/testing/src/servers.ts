import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, chownSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerAnswers, hasBinary, startContainer, type ContainerSpec } from './containers.js';
import { freePort, startProcessServer } from './process-server.js';
import type { TestServer } from './test-server.js';

export type { TestServer } from './test-server.js';

export interface StartOptions {
  /** Listen here instead of a free port (local mode uses the default ports). */
  readonly port?: number;
  /** Keep data here instead of a fresh temporary directory that dispose removes. */
  readonly dataDir?: string;
  /** nats-server only: serve the HTTP monitoring endpoints (/varz, /jsz) on this port. */
  readonly monitorPort?: number;
  /**
   * nats-server only: run with this configuration file (users, permissions); the port, data
   * and monitoring flags still apply over it. Always a private local server, never `NATS_URL`.
   */
  readonly configFile?: string;
  /** Environment of the server process, e.g. the `$VARIABLES` of `configFile`. Default this process's. */
  readonly serverEnv?: NodeJS.ProcessEnv;
  /** Hears the server's log (a local process only), e.g. to find permission violations. */
  readonly onOutput?: (text: string) => void;
  /**
   * redis-server only: keep an append-only file, fsynced every second, as the compose file's
   * Redis does, so a restart on the same data (`process.restart()`) finds what it held; a
   * kill -9 loses nothing that was written. Default false: nothing on disk.
   */
  readonly appendOnly?: boolean;
}

const external = (url: string): TestServer => ({ url, dispose: async () => {} });

/**
 * Local binaries come first (fast, and killable for chaos tests); a container stands in
 * only when the binary is missing and a Docker engine answers.
 */
async function containerInstead(binary: string, spec: ContainerSpec): Promise<TestServer | undefined> {
  if (hasBinary(binary)) return undefined;
  if (!(await dockerAnswers())) {
    throw new Error(`${binary} is not installed and no Docker engine answers: install it (Debian: see README) or set the matching *_URL`);
  }
  return startContainer(spec);
}

function scratch(prefix: string, dataDir?: string): { dir: string; cleanup: () => void } {
  if (dataDir) return { dir: dataDir, cleanup: () => {} };
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A nats-server with JetStream on loopback, or `NATS_URL` when set. */
export async function startNats(options: StartOptions = {}, env = process.env): Promise<TestServer> {
  const configured = options.configFile !== undefined;
  if (env.NATS_URL && options.port === undefined && !configured) return external(env.NATS_URL);
  if (!configured) {
    const container = await containerInstead('nats-server', {
      image: 'nats:2.10-alpine',
      port: 4222,
      command: ['-js'],
      readyLog: /Server is ready/,
      url: (h, p) => `nats://${h}:${p}`,
    });
    if (container) return container;
  }
  const port = options.port ?? (await freePort());
  // A config file may name a monitoring port; a free one keeps parallel servers apart.
  const monitorPort = options.monitorPort ?? (configured ? await freePort() : undefined);
  const { dir, cleanup } = scratch('sy-nats-', options.dataDir);
  const server = await startProcessServer({
    name: 'nats-server',
    command: 'nats-server',
    args: [
      ...(configured ? ['-c', options.configFile!] : []),
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-js',
      '-sd',
      dir,
      ...(monitorPort ? ['-m', String(monitorPort)] : []),
    ],
    readyPattern: /Server is ready/,
    spawnOptions: options.serverEnv ? { env: options.serverEnv } : undefined,
    onOutput: options.onOutput,
    dataDir: dir,
  });
  return { url: `nats://127.0.0.1:${port}`, process: server, dispose: async () => (await server.stop(), cleanup()) };
}

/** A redis-server on loopback that keeps nothing on disk (unless `appendOnly`), or `REDIS_URL` when set. */
export async function startRedis(options: StartOptions = {}, env = process.env): Promise<TestServer> {
  if (env.REDIS_URL && options.port === undefined) return external(env.REDIS_URL);
  const container = await containerInstead('redis-server', {
    image: 'redis:7-alpine',
    port: 6379,
    readyLog: /Ready to accept connections/,
    url: (h, p) => `redis://${h}:${p}`,
  });
  if (container) return container;
  const port = options.port ?? (await freePort());
  const { dir, cleanup } = scratch('sy-redis-', options.dataDir);
  const server = await startProcessServer({
    name: 'redis-server',
    command: 'redis-server',
    args: [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      options.appendOnly ? 'yes' : 'no',
      '--appendfsync',
      'everysec',
      '--dir',
      dir,
    ],
    readyPattern: /Ready to accept connections/,
    dataDir: dir,
  });
  return { url: `redis://127.0.0.1:${port}`, process: server, dispose: async () => (await server.stop(), cleanup()) };
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

/** PostgreSQL refuses to run as root, so as root we run it as the `postgres` user. */
function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, but there is no postgres user to run PostgreSQL as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function chownTree(dir: string, owner: { uid: number; gid: number } | undefined) {
  if (owner) execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
}

/**
 * initdb costs a couple of seconds, so one cluster is initialised per machine and copied
 * for each server; the rename makes the template appear atomically to parallel test files.
 */
function templateCluster(owner: { uid: number; gid: number } | undefined): string {
  const template = join(tmpdir(), `sy-pg-template-15-${owner?.uid ?? process.getuid?.() ?? 'x'}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const building = mkdtempSync(join(tmpdir(), 'sy-pg-build-'));
  chownTree(building, owner);
  execFileSync(join(PG_BIN, 'initdb'), ['-D', join(building, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    stdio: 'ignore',
    ...owner,
  });
  try {
    renameSync(join(building, 'data'), template);
  } catch {
    // Another process won the race; its template is as good as ours.
  }
  rmSync(building, { recursive: true, force: true });
  return template;
}

/** A private PostgreSQL 15 on loopback (database `postgres`), or a fresh database in `DATABASE_URL`. */
export async function startPostgres(options: StartOptions = {}, env = process.env): Promise<TestServer> {
  if (env.DATABASE_URL && options.port === undefined) return freshDatabase(env.DATABASE_URL);
  const container = await containerInstead(join(PG_BIN, 'postgres'), {
    image: 'postgres:15-alpine',
    port: 5432,
    env: { POSTGRES_HOST_AUTH_METHOD: 'trust' },
    readyLog: /database system is ready to accept connections[\s\S]*database system is ready to accept connections/,
    url: (h, p) => `postgres://postgres@${h}:${p}/postgres`,
  });
  if (container) return container;
  const owner = postgresOwner();
  const port = options.port ?? (await freePort());
  const { dir, cleanup } = scratch('sy-pg-', options.dataDir);
  const data = join(dir, 'data');
  if (!existsSync(join(data, 'PG_VERSION'))) {
    cpSync(templateCluster(owner), data, { recursive: true });
    chownTree(dir, owner);
  }
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const server = await startProcessServer({
    name: 'postgres',
    command: join(PG_BIN, 'postgres'),
    args: ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'],
    readyPattern: /ready to accept connections/,
    spawnOptions: owner ? { uid: owner.uid, gid: owner.gid } : {},
  });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    process: server,
    dispose: async () => (await server.stop(), cleanup()),
  };
}

async function freshDatabase(url: string): Promise<TestServer> {
  const { default: postgres } = await import('postgres');
  const name = `sy_test_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    dispose: async () => {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

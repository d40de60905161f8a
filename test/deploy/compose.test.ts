import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

/**
 * No Docker engine runs in CI: docker-compose.yml is checked as compose itself reads it
 * (`docker-compose config`: anchors merged, variables filled in), then for what an operator
 * would notice when it runs: `--scale admission=2` must not clash on a host port, and
 * nothing may start before what it needs is healthy.
 */
interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  ports?: Array<{ published?: number | string; target: number } | string>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  profiles?: string[];
  volumes?: Array<string | { source?: string; target: string }>;
}

let services: Record<string, ComposeService>;

/** Runs a tool CI must have; a missing one fails the test with how to install it, never skips it. */
async function tool(command: string, args: string[], install: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(command, args, { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${command} is not installed: apt-get install ${install}`);
    throw e;
  }
}

const published = (s: ComposeService) => (s.ports ?? []).map((p) => (typeof p === 'string' ? Number(p.split(':').at(-2)) : Number(p.published)));
/** The services built from this repo's image: the ones that run Switchyard code. */
const switchyard = () => Object.entries(services).filter(([, s]) => s.image === 'switchyard:dev');

beforeAll(async () => {
  const { stdout } = await tool('docker-compose', ['-f', 'docker-compose.yml', 'config'], 'docker-compose');
  services = (parse(stdout) as { services: Record<string, ComposeService> }).services;
});

describe('docker-compose.yml', () => {
  it('is valid compose (docker-compose config -q exits 0)', async () => {
    await expect(tool('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], 'docker-compose')).resolves.toBeDefined();
  });

  it('runs every service of the system', () => {
    const names = switchyard().map(([n]) => n);
    for (const name of ['admission', 'policy', 'scheduler', 'batcher', 'worker-simulator', 'metering', 'billing', 'batch']) expect(names).toContain(name);
  });

  it('publishes no admission port, so admission scales; haproxy publishes gRPC 50051 and HTTP 8080 for every replica', () => {
    expect(services.admission!.ports ?? []).toEqual([]);
    expect(services.haproxy!.image).toMatch(/^haproxy:2\.9/);
    expect(published(services.haproxy!)).toEqual(expect.arrayContaining([50051, 8080]));
    // Services that scale in the README's examples must not hold a host port either.
    for (const name of ['scheduler', 'worker-simulator', 'batcher']) expect(services[name]!.ports ?? [], name).toEqual([]);
  });

  it('admission listens on every interface for gRPC and the OpenAI facade, and the scheduler serves the Ops API', () => {
    expect(services.admission!.environment).toMatchObject({ ADMISSION_LISTEN: '0.0.0.0:50051', HTTP_LISTEN: '0.0.0.0:8080' });
    expect(services.scheduler!.environment!.OPS_LISTEN).toMatch(/^0\.0\.0\.0:\d+$/);
    for (const [name, s] of switchyard()) expect(s.environment!.METRICS_HOST, name).toBe('0.0.0.0');
  });

  it('gives nats, redis, postgres, haproxy and every Switchyard service a healthcheck', () => {
    for (const name of ['nats', 'redis', 'postgres', 'haproxy']) expect(services[name]!.healthcheck?.test, name).toBeDefined();
    for (const [name, s] of switchyard()) {
      expect(s.healthcheck?.disable, name).not.toBe(true);
      expect(JSON.stringify(s.healthcheck?.test), name).toContain(`:${s.environment!.METRICS_PORT}/healthz`);
    }
    expect(JSON.stringify(services.nats!.healthcheck!.test)).toContain(':8222/healthz');
  });

  it('starts no Switchyard service before NATS, Redis and Postgres are healthy', () => {
    for (const [name, s] of switchyard()) {
      for (const infra of ['nats', 'redis', 'postgres']) expect(s.depends_on?.[infra]?.condition, `${name} -> ${infra}`).toBe('service_healthy');
    }
  });

  it('runs Redis with an append-only file and without eviction, and NATS with file storage on a volume', () => {
    const command = [services.redis!.command].flat().join(' ');
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
    expect([services.nats!.command].flat().join(' ')).toMatch(/-sd \/data/);
  });

  it('gives Prometheus the alert and recording rules, and Grafana its data source and dashboards', () => {
    const mounts = (s: ComposeService) => (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[1] : v.target));
    expect(mounts(services.prometheus!)).toEqual(expect.arrayContaining(['/etc/prometheus/prometheus.yml', '/etc/prometheus/rules']));
    expect(mounts(services.grafana!)).toEqual(expect.arrayContaining(['/etc/grafana/provisioning', '/var/lib/grafana/dashboards']));
  });
});

describe('deploy/haproxy/haproxy.cfg', () => {
  it('sends gRPC and HTTP to the ports admission listens on, and checks the health port the services serve', () => {
    const cfg = readFileSync(join(root, 'deploy', 'haproxy', 'haproxy.cfg'), 'utf8');
    const port = (listen: string) => listen.split(':').at(-1);
    const env = services.admission!.environment!;
    expect(cfg).toMatch(new RegExp(`server-template admission \\d+ admission:${port(env.ADMISSION_LISTEN!)} .*proto h2`));
    expect(cfg).toMatch(new RegExp(`server-template admission \\d+ admission:${port(env.HTTP_LISTEN!)}(\\s|$)`, 'm'));
    expect(cfg).toMatch(new RegExp(`server-template scheduler \\d+ scheduler:${port(services.scheduler!.environment!.OPS_LISTEN!)} .*proto h2`));
    expect(cfg).toMatch(new RegExp(`default-server .*check port ${env.METRICS_PORT} `));
    expect(cfg).toMatch(/bind :50051 proto h2/);
  });

  // haproxy -c checks the syntax and every keyword offline: `init-addr none` leaves the replicas'
  // addresses to the runtime resolver (Docker's DNS), so nothing needs to resolve here.
  it('passes haproxy -c', async () => {
    const { stdout, stderr } = await tool('haproxy', ['-c', '-f', 'deploy/haproxy/haproxy.cfg'], 'haproxy');
    expect(stdout + stderr).toContain('Configuration file is valid');
  });
});

import { createKeyring, generateApiKey, hashApiKey } from '@switchyard/auth';
import { createBilling, type Billing } from '@switchyard/billing';
import { connectBus, jetstream, jetstreamManager, provisionStreams, type NatsConnection } from '@switchyard/bus';
import { streams } from '@switchyard/contracts';
import { createLogger } from '@switchyard/telemetry';
import { startNats, startPostgres, testPool, type TestServer } from '@switchyard/testing';
import { Command } from 'commander';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerReservationCommands } from './reservations.js';

let nats: TestServer;
let pg: TestServer;
let sql: Sql;
let nc: NatsConnection;
let billing: Billing;
let env: NodeJS.ProcessEnv;
const ops = generateApiKey();
const tenantKey = generateApiKey();

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  sql = postgres(pg.url, { max: 4, onnotice: () => {} });
  nc = await connectBus({ url: nats.url, name: 'cli-reservations-test' });
  await provisionStreams(await jetstreamManager(nc), Object.values(streams));
  billing = createBilling({
    js: jetstream(nc),
    sql,
    logger: createLogger({ service: 'billing', level: 'silent' }),
    listen: '127.0.0.1:0',
    reconcileEveryMs: 0,
    keyring: createKeyring([
      { tenant: 'ops', keyId: 'o', keyHash: hashApiKey(ops), operator: true },
      { tenant: 'acme', keyId: 'a', keyHash: hashApiKey(tenantKey) },
    ]),
    pools: [testPool({ id: 'r-8b', capacityClass: 'reserved' })],
  });
  env = { SWITCHYARD_BILLING_ADDR: await billing.start(), SWITCHYARD_API_KEY: ops };
}, 60_000);

afterAll(async () => {
  await billing?.stop();
  await nc?.close();
  await sql?.end();
  await Promise.all([nats?.dispose(), pg?.dispose()]);
});

/** Runs `switchyard <args>` against the test billing and returns what it printed. */
async function run(args: string[], over: NodeJS.ProcessEnv = {}): Promise<string> {
  const program = new Command('switchyard').exitOverride();
  registerReservationCommands(program, { ...env, ...over });
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    log.mockRestore();
  }
  return out.join('\n');
}

const add = ['reservation', 'add', '--tenant', 'acme', '--gpus', '2', '--start', '2030-01-01T00:00Z', '--end', '2030-02-01T00:00Z', '--id', 'acme-jan'];

describe('switchyard reservation', () => {
  it('adds a reservation once and lists it with its pinned fee', async () => {
    expect(await run([...add, '--pools', 'r-8b'])).toMatch(
      /acme-jan\s+acme\s+r-8b\s+llama-3.1-8b\s+2\s+2030-01-01T00:00Z\s+2030-02-01T00:00Z\s+4.50\s+6696.00\s+0.00\s+v1\nrecorded/,
    );
    expect(await run([...add, '--pools', 'r-8b'])).toMatch(/already recorded: nothing new/);
    expect(await run(['reservation', 'list'])).toMatch(/acme-jan/);
    expect(await run(['reservation', 'list'], { SWITCHYARD_API_KEY: tenantKey })).toMatch(/acme-jan/);
  });

  it('refuses pools that do not exist, naming them, and a tenant key', async () => {
    await expect(run([...add, '--id', 'acme-feb', '--pools', 'r-8b,nope'])).rejects.toMatchObject({
      details: expect.stringMatching(/pools that do not exist: "nope"/),
    });
    await expect(run([...add, '--id', 'acme-feb', '--pools', 'r-8b'], { SWITCHYARD_API_KEY: tenantKey })).rejects.toMatchObject({
      details: expect.stringMatching(/needs an operator key/),
    });
    expect(Number((await sql<{ n: string }[]>`SELECT count(*) AS n FROM reservations`)[0]!.n)).toBe(1);
  });
});

import { mkdirSync } from 'node:fs';
import { connectBus, jetstream, openBucket, type NatsConnection } from '@switchyard/bus';
import { launchChromium, readAudit } from '@switchyard/cli';
import { buckets, Tier } from '@switchyard/contracts';
import { startConsoleFeed, startConsoleServer, type ConsoleFeed, type ConsoleServer } from '@switchyard/scheduler';
import { createSwitchyardClient, type SwitchyardClient } from '@switchyard/sdk';
import { createLogger } from '@switchyard/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, TEST_POOLS, type RunningSystem } from '../support/system.js';

/**
 * Issue #20: the live console, in real headless Chromium against the whole system. An operator
 * watches numbers move under load, sees decisions arrive and drains a pool with a click; a
 * tenant's key sees the fleet and its own spend, and its click on Drain is refused, shown and
 * audited.
 */
type Browser = Awaited<ReturnType<typeof launchChromium>>;
type Page = Awaited<ReturnType<Browser['newPage']>>;

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = new URL('../../test-artifacts/', import.meta.url).pathname;
const pool = TEST_POOLS[0]!.id;
const startedMs = Date.now();

let system: RunningSystem;
let consoleNc: NatsConnection;
let feed: ConsoleFeed;
let server: ConsoleServer;
let browser: Browser;
let client: SwitchyardClient;

beforeAll(async () => {
  system = await startSystem();
  const logger = createLogger({ service: 'console', level: 'silent' });
  consoleNc = await connectBus({ url: system.servers.nats.url, name: 'scheduler-console' });
  feed = await startConsoleFeed({
    nc: consoleNc,
    pools: TEST_POOLS,
    ops: () => system.scheduler.ops,
    pricebookKv: await openBucket(consoleNc, buckets.pricebook),
    ttftObjectivesMs: { realtime: 1_000, internal: 5_000, batch: 600_000 },
    logger,
    now: Date.now,
  });
  server = await startConsoleServer({
    listen: '127.0.0.1:0',
    keyring: system.tenants.keyring,
    feed,
    actions: system.scheduler.operatorActions,
    logger,
    intervalMs: 500,
  });
  browser = await launchChromium(chromiumPath);
  client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
}, 60_000);

afterAll(async () => {
  client?.close();
  await browser?.close();
  await server?.stop();
  feed?.stop();
  await consoleNc?.close();
  await system?.stop();
});

async function open(key: string): Promise<Page> {
  // A new context per viewer: its own sessionStorage, as a second browser would have.
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
  await page.goto(`${server.url}/console`);
  await page.fill('#key', key);
  await page.click('#connect');
  return page;
}

const text = (page: Page, selector: string) => page.locator(selector).first().innerText();
const poolCell = (page: Page, cell: string) => page.locator(`#pools tr[data-pool="${pool}"] td[data-cell="${cell}"]`);

describe('live console', () => {
  it('needs a valid key for its data, and serves everything from itself', async () => {
    expect((await fetch(`${server.url}/console/events`)).status).toBe(401);
    expect((await fetch(`${server.url}/console/snapshot`, { headers: { authorization: 'Bearer sy_not-a-key' } })).status).toBe(401);
    const html = await (await fetch(`${server.url}/console`)).text();
    // No CDN: nothing is loaded from anywhere else.
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//);
  });

  it('shows an operator the numbers moving under load and the decisions as they happen; Drain and Undrain change the pool', async () => {
    const page = await open(system.operatorApiKey);
    await expect.poll(() => text(page, '#who'), { timeout: 5_000 }).toMatch(/operator\)$/);
    // Nothing was served yet: no tier has a row, throughput is zero.
    expect(await page.locator('#tiers tr').count()).toBe(0);
    expect(Number(await text(page, '#tok-per-s'))).toBe(0);
    expect(await poolCell(page, 'drain-state').innerText()).toBe('in service');

    const replies = await Promise.all(
      Array.from({ length: 36 }, (_, i) =>
        client.complete({ model: 'llama-3.1-8b', prompt: `console ${i}`, maxTokens: 12, tier: i % 3 ? Tier.TIER_REALTIME : Tier.TIER_INTERNAL }),
      ),
    );
    expect(replies.every((r) => r.text.length > 0)).toBe(true);

    const realtime = (cell: string) => page.locator(`#tiers tr[data-tier="realtime"] td[data-cell="${cell}"]`);
    await expect.poll(async () => Number(await text(page, '#tok-per-s')), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => realtime('ttft-p50').innerText(), { timeout: 10_000 }).toMatch(/^\d+$/);
    // The snapshot's figures come from different streams (tokens and TTFT from usage, completions
    // from terminal events): each is waited for, not read once the first has moved.
    await expect.poll(async () => Number(await realtime('completed').innerText()), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => realtime('attainment').innerText(), { timeout: 10_000 }).toMatch(/^\d+%$/);
    await expect.poll(async () => Number(await realtime('tokens').innerText()), { timeout: 10_000 }).toBeGreaterThan(0);
    // The scheduler's placements, as they were decided.
    await expect
      .poll(() => page.locator('#decisions tr[data-service="scheduler"] td[data-cell="action"]').first().innerText(), { timeout: 10_000 })
      .toBe('place');
    // Spend: the operator sees acme's (whose key sent the load).
    await expect.poll(() => page.locator('#tenants tr').first().innerText(), { timeout: 10_000 }).toMatch(/^acme\s+36\s+0\.\d+/);

    await page.click(`#pools tr[data-pool="${pool}"] button.drain`);
    await expect.poll(() => poolCell(page, 'drain-state').innerText(), { timeout: 5_000 }).toMatch(/^drained: drained from the console by ops-1$/);
    expect(await poolCell(page, 'health').innerText()).toBe('drained');
    expect(system.scheduler.ops.listPools()[0]!.drained).toBe(true);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}console.png`, fullPage: true });

    await page.click(`#pools tr[data-pool="${pool}"] button.undrain`);
    await expect.poll(() => poolCell(page, 'drain-state').innerText(), { timeout: 5_000 }).toBe('in service');
    await page.context().close();
  });

  it("refuses a tenant's Drain with a clear message, changes nothing and audits the attempt; the tenant sees only its own spend", async () => {
    // globex spends too, so there is another tenant's row to keep from acme.
    await createSwitchyardClient({ address: system.admissionAddress, apiKey: system.otherApiKey }).complete({
      model: 'llama-3.1-8b',
      prompt: 'globex',
      maxTokens: 4,
    });
    const page = await open(system.apiKey);
    await expect.poll(() => text(page, '#who'), { timeout: 5_000 }).toBe('key acme-1 (tenant acme, viewer)');
    await expect.poll(() => page.locator('#tenants tr').allInnerTexts(), { timeout: 5_000 }).toEqual([expect.stringMatching(/^acme\s/)]);
    expect(await page.locator('#decisions tr').count()).toBeGreaterThan(0);
    expect(await page.locator('#decisions td', { hasText: 'globex' }).count()).toBe(0);

    await page.click(`#pools tr[data-pool="${pool}"] button.drain`);
    await expect
      .poll(() => text(page, '#message.refused'), { timeout: 5_000 })
      .toMatch(/^Refused: draining a pool needs an operator key; key acme-1 of tenant acme is not one/);
    expect(await poolCell(page, 'drain-state').innerText()).toBe('in service');
    expect(system.scheduler.ops.listPools()[0]!.drained).toBe(false);
    await page.screenshot({ path: `${artifacts}console-viewer.png`, fullPage: true });

    // A key revoked while its page is open stops seeing anything.
    await system.tenants.revokeKey('acme-1');
    await expect.poll(() => text(page, '#message.error'), { timeout: 5_000 }).toMatch(/^Not connected: invalid or revoked API key/);
    expect(await text(page, '#who')).toBe('not connected');
    await page.context().close();

    const audit = await readAudit(jetstream(system.nc), { sinceMs: startedMs - 1_000, untilMs: Date.now() });
    expect(audit.map((r) => [r.action, r.actor, r.outcome])).toEqual([
      ['drain', 'ops-1', 'allowed'],
      ['undrain', 'ops-1', 'allowed'],
      ['drain', 'acme-1', 'denied'],
    ]);
  });
}, 60_000);

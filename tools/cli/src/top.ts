import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { connectBus, jetstreamManager } from '@switchyard/bus';
import { loadPoolsFile } from '@switchyard/config';
import { aboveZero, wholeAtLeastOne } from './cli-arguments.js';
import { natsUrl, poolsFile } from './ops.js';
import { loadBookAt } from './replay-prices.js';
import { followTop } from './top-feed.js';
import { renderTop } from './top-render.js';

interface TopOptions {
  readonly interval: number;
  readonly window: number;
  readonly top: number;
  readonly once?: boolean;
  readonly for: number;
  readonly json?: boolean;
  readonly nats?: string;
  readonly pools?: string;
}

// Clear the screen and home the cursor, so each frame replaces the last.
const CLEAR = '\x1b[2J\x1b[H';

/** `switchyard top`: a live view of tiers, pools and tenants, redrawn every interval. */
export function registerTopCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('top')
    .description('a live view: per tier rates and latency, per pool load, spend per tenant')
    .option('--interval <s>', 'seconds between redraws', aboveZero, 1)
    .option('--window <s>', 'sliding window of rates, percentiles and spend, seconds', aboveZero, 60)
    .option('--top <n>', 'tenants listed, by spend', wholeAtLeastOne, 10)
    .option('--once', 'listen for --for seconds, print one snapshot and exit')
    .option('--for <s>', 'with --once: seconds to listen first', aboveZero, 5)
    .option('--json', 'with --once: print the snapshot as JSON')
    .option('--nats <url>', 'NATS server (default: NATS_URL, else nats://127.0.0.1:4222)')
    .option('--pools <file>', 'pools file (default: POOLS_FILE, else the one `switchyard up` ran with, else deploy/pools.yaml)')
    .action(async (o: TopOptions) => {
      if (o.json && !o.once) throw new Error('--json goes with --once');
      const path = poolsFile(o, env);
      if (!existsSync(path)) throw new Error(`no pools file at ${path}; pass --pools`);
      const nc = await connectBus({ url: natsUrl(o, env), name: 'switchyard-top' });
      const { bookAt } = await loadBookAt(nc, await jetstreamManager(nc));
      const feed = await followTop({ nc, pools: loadPoolsFile(path), bookAt, now: Date.now, windowMs: o.window * 1000, topTenants: o.top });
      const close = async () => {
        feed.stop();
        await nc.close();
      };
      if (o.once) {
        await new Promise((r) => setTimeout(r, o.for * 1000));
        const s = await feed.snapshot();
        console.log(o.json ? JSON.stringify(s, null, 2) : renderTop(s).join('\n'));
        return close();
      }
      const tty = process.stdout.isTTY;
      const draw = async () => process.stdout.write(`${tty ? CLEAR : ''}${renderTop(await feed.snapshot()).join('\n')}\n${tty ? '' : '\n'}`);
      await draw();
      const timer = setInterval(() => void draw().catch((e: unknown) => console.error(e)), o.interval * 1000);
      // Ctrl-C is how one leaves a live view: not an error.
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      clearInterval(timer);
      await close();
    });
}

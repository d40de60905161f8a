import { followEvents, type KV, type NatsConnection, type Subscription } from '@switchyard/bus';
import type { PoolSpec } from '@switchyard/config';
import { decodeEvent, filters } from '@switchyard/contracts';
import { bookAtOf, createTopModel, type BookAt } from '@switchyard/live-model';
import { priceBookProblems, type PriceBook } from '@switchyard/pricing';
import type { Logger } from '@switchyard/telemetry';
import type { OpsView } from '../ops/view.js';
import { consoleSnapshot, createDecisionLog, decisionRow, type ConsoleSnapshot, type ConsoleViewer } from './domain/console-view.js';

export interface ConsoleFeedDeps {
  /**
   * Core NATS the events are followed on. Not the scheduler's own connection where that one
   * is opened with `noEcho`: the console must hear the scheduler's own placements too.
   */
  readonly nc: NatsConnection;
  /** The pools file's pools: their capacity (workers x slots) is what utilisation is of. */
  readonly pools: readonly PoolSpec[];
  /** The operator view: every pool's live state and drain. */
  readonly ops: () => OpsView;
  /** Billing's `pricebook` bucket, re-read every `priceRefreshMs`; absent: the default book. */
  readonly pricebookKv?: KV;
  /** Each tier's TTFT objective, ms, for attainment. */
  readonly ttftObjectivesMs: Readonly<Record<string, number>>;
  readonly logger: Logger;
  readonly now: () => number;
  /** Default 60,000 ms. */
  readonly windowMs?: number;
  /** Default 60,000 ms. */
  readonly priceRefreshMs?: number;
}

export interface ConsoleFeed {
  snapshot(viewer: ConsoleViewer): ConsoleSnapshot;
  stop(): void;
}

async function readPriceBooks(kv: KV, logger: Logger): Promise<PriceBook[]> {
  const books: PriceBook[] = [];
  for await (const version of await kv.keys()) {
    const entry = await kv.get(version);
    if (!entry || entry.operation !== 'PUT') continue;
    const book = JSON.parse(entry.string()) as PriceBook;
    const problems = priceBookProblems(book);
    if (problems.length) logger.warn({ version, problems }, 'price-book version skipped by the console');
    else books.push(book);
  }
  return books;
}

/**
 * The console's data path, the same as `switchyard top`'s: admissions, terminal events and
 * usage on core NATS folded by the live model over a sliding window, plus the latest decisions
 * (`decisions.>`) as they are published. No consumer is created: it sees what happens while the
 * scheduler runs.
 */
export async function startConsoleFeed(deps: ConsoleFeedDeps): Promise<ConsoleFeed> {
  let bookAt: BookAt = bookAtOf([]);
  const refresh = async () => {
    if (deps.pricebookKv) bookAt = bookAtOf(await readPriceBooks(deps.pricebookKv, deps.logger));
  };
  await refresh();
  const timer = setInterval(
    () => void refresh().catch((e: unknown) => deps.logger.warn({ err: e }, 'console could not re-read the price books')),
    deps.priceRefreshMs ?? 60_000,
  );
  timer.unref();
  const model = createTopModel({
    windowMs: deps.windowMs,
    listeningSinceMs: deps.now(),
    // Every tenant is kept: a tenant's key must find its own row, however small its spend.
    topTenants: Number.MAX_SAFE_INTEGER,
    bookAt: (atMs) => bookAt(atMs),
    ttftObjectivesMs: deps.ttftObjectivesMs,
  });
  const decisions = createDecisionLog();
  const slots = new Map(deps.pools.map((p) => [p.id, p.slotsPerWorker]));
  const subs: Subscription[] = [
    followEvents(deps.nc, filters.allAdmitted, (e) => {
      if (e.payload?.$case === 'requestAdmitted' && e.payload.requestAdmitted.request) model.onAdmitted(e.payload.requestAdmitted.request, deps.now());
    }),
    followEvents(deps.nc, filters.allTerminals, (e) => {
      if (e.payload?.$case === 'requestTerminated') model.onTerminal(e.payload.requestTerminated, deps.now());
    }),
    followEvents(deps.nc, filters.allUsage, (e) => {
      if (e.payload?.$case === 'usageRecorded') model.onUsage(e.payload.usageRecorded, deps.now());
    }),
    deps.nc.subscribe(filters.allDecisions, {
      callback: (error, msg) => {
        if (error) return;
        try {
          const row = decisionRow(msg.subject, decodeEvent(msg.data));
          if (row) decisions.add(row);
        } catch {
          // An undecodable decision is telemetry lost, never a reason to stop listening.
        }
      },
    }),
  ];
  return {
    snapshot(viewer) {
      const ops = deps.ops();
      const pools = ops.listPools();
      const top = model.snapshot(
        deps.now(),
        pools.map((p) => ({ id: p.id, workers: p.workers, slotsPerWorker: slots.get(p.id) ?? 0, state: p })),
      );
      return consoleSnapshot(top, pools, decisions.latest(), viewer);
    },
    stop() {
      clearInterval(timer);
      for (const s of subs) s.unsubscribe();
    },
  };
}

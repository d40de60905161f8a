import { publishEvent, type JetStreamClient } from '@switchyard/bus';
import { makeEvent, subjects, type BudgetState } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { Sql } from 'postgres';
import { budgetState, budgetStateId, type Budget } from './domain/budget.js';
import { loadBudgets, loadSpend } from './budgets.js';
import type { SpendRow } from './ledger-posting.js';
import { periodOf } from '@switchyard/pricing';

export interface BudgetPublisherOptions {
  readonly sql: Sql;
  readonly js: JetStreamClient;
  readonly logger: Logger;
  readonly now: () => number;
  /** How often tenants whose spend changed get a new state. Default 200 ms. */
  readonly flushMs?: number;
  /** How often every budgeted tenant's state is re-read and published (new month, other replicas' changes). Default 60 s. */
  readonly fullEveryMs?: number;
  /**
   * How long after its spend last changed a tenant's state is published once more. Admission
   * counts a settled request on top of the published spend until it sees a state read well
   * after it (its grace, 10 s by default); once a tenant goes quiet, no posting would publish
   * that state, so this one does. Default 15 s.
   */
  readonly quietRepublishMs?: number;
}

/**
 * Publishes budget state on `billing.budget.<tenant>` for tenants with a budget: shortly
 * after postings change their spend, when a budget changes, and periodically for all.
 */
export function createBudgetPublisher(options: BudgetPublisherOptions) {
  const { sql, js, logger, now } = options;
  let budgets: Budget[] = [];
  let budgeted = new Set<string>();
  const dirty = new Set<string>();
  /** Tenants published for a spend change, by when: each gets one more state once quiet. */
  const lastChange = new Map<string, number>();
  const quietMs = options.quietRepublishMs ?? 15_000;
  const timers: NodeJS.Timeout[] = [];
  let running: Promise<void> = Promise.resolve();

  const reload = async () => {
    budgets = await loadBudgets(sql);
    budgeted = new Set(budgets.map((b) => b.tenant));
  };

  /** The state of a tenant now, from the database. */
  const stateOf = async (tenant: string): Promise<BudgetState> => {
    const period = periodOf(now());
    const [own, spend] = await Promise.all([loadBudgets(sql, tenant), loadSpend(sql, [tenant], period)]);
    return budgetState({ tenant, period, budgets: own, spends: spend.get(tenant) ?? [], asOfMs: now() });
  };

  const publish = async (tenants: readonly string[], quiet = false) => {
    if (!tenants.length) return;
    const period = periodOf(now());
    const spends = await loadSpend(sql, tenants, period);
    await Promise.all(
      tenants.map(async (tenant) => {
        const own = budgets.filter((b) => b.tenant === tenant);
        const state = budgetState({ tenant, period, budgets: own, spends: spends.get(tenant) ?? [], asOfMs: now() });
        await publishEvent(
          js,
          subjects.billingBudget(tenant),
          makeEvent(
            { id: `${budgetStateId(state, own)}${quiet ? '-quiet' : ''}`, tenant, requestId: '', nowMs: now() },
            { $case: 'budgetState', budgetState: state },
          ),
        );
      }),
    );
  };

  // One publish at a time, so states of a tenant leave in the order they were read.
  const serial = (work: () => Promise<void>) => {
    running = running.then(work).catch((e) => logger.warn({ err: e }, 'budget state not published'));
    return running;
  };

  const flushDirty = () =>
    serial(async () => {
      const tenants = [...dirty];
      dirty.clear();
      await publish(tenants);
      for (const t of tenants) lastChange.set(t, now());
    });

  const republishQuiet = () => {
    const quiet = [...lastChange].filter(([, at]) => now() - at >= quietMs).map(([tenant]) => tenant);
    if (!quiet.length) return;
    for (const t of quiet) lastChange.delete(t);
    void serial(() => publish(quiet, true));
  };

  return {
    async start() {
      await reload();
      await serial(() => publish([...budgeted]));
      timers.push(setInterval(() => void (dirty.size ? flushDirty() : undefined), options.flushMs ?? 200));
      timers.push(setInterval(republishQuiet, Math.max(10, quietMs / 4)));
      timers.push(setInterval(() => void serial(async () => (await reload(), await publish([...budgeted]))), options.fullEveryMs ?? 60_000));
    },
    /** Marks tenants whose spend a posting changed. */
    touched(spend: readonly SpendRow[]) {
      for (const s of spend) if (budgeted.has(s.tenant)) dirty.add(s.tenant);
    },
    /** After a budget changed here: reload and publish that tenant at once. */
    async budgetChanged(tenant: string) {
      await serial(async () => (await reload(), await publish([tenant])));
    },
    stateOf,
    async stop() {
      for (const t of timers) clearInterval(t);
      await running;
    },
  };
}

export type BudgetPublisher = ReturnType<typeof createBudgetPublisher>;

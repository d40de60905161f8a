import { DeliverPolicy, followOrdered, type JetStreamClient, type NatsConnection } from '@switchyard/bus';
import { decodeEvent, filters, streams, type BudgetState } from '@switchyard/contracts';
import { newerBudgetState } from './domain/budget-plan.js';

export interface BudgetStates {
  /** The latest state billing published for a tenant; undefined when it has no budget. */
  stateOf(tenant: string): BudgetState | undefined;
  stop(): Promise<void>;
}

/**
 * Mirrors the budget states billing publishes on `billing.budget.<tenant>` (billing owns
 * budgets and the month's spend in its ledger). Starts from the last state of every tenant,
 * then follows live, so a budget set through `SetBudget` is enforced here within the time
 * billing takes to publish it, and a restart or a Redis flush forgets no spend.
 * Resolves once the stored states are read.
 */
export async function followBudgetStates(js: JetStreamClient, nc: NatsConnection, onError: (e: unknown) => void): Promise<BudgetStates> {
  const states = new Map<string, BudgetState>();
  let caughtUp!: () => void;
  const initial = new Promise<void>((resolve) => (caughtUp = resolve));
  const follower = await followOrdered(
    js,
    { stream: streams.BILLING.name, filterSubjects: filters.allBillingBudget, deliverPolicy: DeliverPolicy.LastPerSubject, nc },
    (msg) => {
      try {
        const payload = decodeEvent(msg.data).payload;
        if (payload?.$case === 'budgetState') {
          const next = payload.budgetState;
          const current = states.get(next.tenant);
          if (!current || newerBudgetState(next, current)) states.set(next.tenant, next);
        }
      } catch (e) {
        onError(e);
      } finally {
        if (msg.info.pending === 0) caughtUp();
      }
    },
  );
  if (follower.pendingAtStart === 0) caughtUp();
  await initial;
  return {
    stateOf: (tenant) => states.get(tenant),
    stop: () => follower.stop(),
  };
}

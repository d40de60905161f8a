import type { NatsConnection } from '@switchyard/bus';
import { waitFor } from '@switchyard/testing';
import { expect } from 'vitest';
import type { Sql } from 'postgres';
import { admittedRequests, terminalsByRequest } from './read-stream.js';
import { runReconcile } from './usage-chaos.js';

/** What a run left behind, once every admitted request has ended and billing caught up. */
export interface RequestInvariants {
  readonly admitted: number;
  /** Admitted requests with no terminal outcome, or more than one. */
  readonly notEndedOnce: readonly string[];
  readonly completed: number;
  /** Completed requests billed for tokens more than once. */
  readonly billedTwice: readonly string[];
  /** Completed requests with no billed tokens. */
  readonly unbilled: readonly string[];
  /** `switchyard reconcile` over the run, as an operator runs it. */
  readonly reconcileOk: boolean;
  readonly reconcileDifferences: readonly unknown[];
}

/**
 * Waits (up to `timeoutMs`) until every request admitted on REQUESTS has a terminal outcome on
 * LIFECYCLE and the ledger bills every completed one, then reports the invariants of issue #23:
 * each admitted request ended exactly once, each completion billed exactly once, and
 * `switchyard reconcile` over the run finds no differences. Callers assert on the report.
 */
export async function checkRequestInvariants(o: {
  readonly nc: NatsConnection;
  readonly sql: Sql;
  readonly natsUrl: string;
  readonly databaseUrl: string;
  readonly sinceMs: number;
  readonly timeoutMs?: number;
}): Promise<RequestInvariants> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const admitted = await admittedRequests(o.nc);
  const terminals = await waitFor(
    'every admitted request to end',
    async () => {
      const t = await terminalsByRequest(o.nc);
      return admitted.every((id) => t.has(id)) ? t : undefined;
    },
    timeoutMs,
  ).catch(() => terminalsByRequest(o.nc));
  const notEndedOnce = admitted.filter((id) => terminals.get(id)?.length !== 1);
  const completed = admitted.filter((id) => terminals.get(id)?.[0] === 'completed');
  const billed = async () =>
    new Map(
      (
        await o.sql<{ request_id: string; n: string }[]>`
        SELECT request_id, count(*) AS n FROM ledger_transactions WHERE kind = 'usage' AND output_tokens > 0 GROUP BY request_id`
      ).map((r) => [r.request_id, Number(r.n)]),
    );
  const byRequest = await waitFor(
    'every completed request billed',
    async () => {
      const b = await billed();
      return completed.every((id) => b.has(id)) ? b : undefined;
    },
    timeoutMs,
  ).catch(billed);
  const report = await runReconcile(o.databaseUrl, o.natsUrl, o.sinceMs);
  return {
    admitted: admitted.length,
    notEndedOnce,
    completed: completed.length,
    billedTwice: completed.filter((id) => (byRequest.get(id) ?? 0) > 1),
    unbilled: completed.filter((id) => !byRequest.has(id)),
    reconcileOk: report.ok,
    reconcileDifferences: report.differences,
  };
}

/** Asserts the invariants hold: every admitted request ended once, every completion billed once, reconcile clean. */
export function expectInvariantsHold(report: RequestInvariants): void {
  expect({ notEndedOnce: report.notEndedOnce, billedTwice: report.billedTwice, unbilled: report.unbilled, differences: report.reconcileDifferences }).toEqual({
    notEndedOnce: [],
    billedTwice: [],
    unbilled: [],
    differences: [],
  });
  expect(report.reconcileOk).toBe(true);
}

import type { Keyring, Principal } from '@switchyard/auth';
import {
  DomainError,
  isTenantId,
  EntrySide,
  tierFromText,
  type AddCreditRequest,
  type AddCreditResponse,
  type BillingServiceServer,
  type GetBalanceRequest,
  type GetBalanceResponse,
  type GetBudgetRequest,
  type GetBudgetResponse,
  type GetInvoiceRequest,
  type GetInvoiceResponse,
  type ListEntriesRequest,
  type ListEntriesResponse,
  type ListUsageRollupsRequest,
  type ListUsageRollupsResponse,
  type SetBudgetRequest,
  type SetBudgetResponse,
} from '@switchyard/contracts';
import { authorizationOf, createGrpcEdge } from '@switchyard/grpc-edge';
import { parsePeriod, periodOf, type PriceBook } from '@switchyard/pricing';
import type { Logger } from '@switchyard/telemetry';
import { listRollups } from '@switchyard/usage-store';
import type { Sql } from 'postgres';
import { rejectBudget } from './domain/budget.js';
import type { BudgetPublisher } from './budget-publisher.js';
import { saveBudget } from './budgets.js';
import { loadInvoice } from './invoices.js';
import { addCredit, tenantBalances, tenantEntries } from './ledger.js';

export interface BillingHandlerDeps {
  readonly sql: Sql;
  readonly keyring: Keyring;
  readonly logger: Logger;
  readonly currency: string;
  readonly books: () => ReadonlyMap<string, PriceBook>;
  readonly budgets: BudgetPublisher;
  readonly now: () => number;
}

const MAX_ROLLUP_WINDOW_MS = 31 * 24 * 3_600_000;

/**
 * The tenant a read may see: the caller's own, or any for an operator key. Checked before
 * any query runs, so a refused caller learns nothing about the other tenant.
 */
function scopedTenant(principal: Principal, requested: string): string {
  if (!requested || requested === principal.tenant) return principal.tenant;
  if (principal.operator) return requested;
  throw new DomainError('PERMISSION_DENIED', `this API key belongs to tenant "${principal.tenant}" and cannot read another tenant's billing data`);
}

function operatorTenant(principal: Principal, tenant: string, what: string): string {
  if (!principal.operator) throw new DomainError('PERMISSION_DENIED', `${what} needs an operator key`);
  if (!isTenantId(tenant)) throw new DomainError('INVALID_ARGUMENT', 'tenant must be 1-64 letters, digits, "-" or "_"');
  return tenant;
}

export function billingHandlers(deps: BillingHandlerDeps): BillingServiceServer {
  const { unary } = createGrpcEdge({ logger: deps.logger, authenticate: (metadata) => deps.keyring.authenticate(authorizationOf(metadata)) });
  const run = <Req, Res>(handler: (request: Req, principal: Principal) => Promise<Res>) =>
    unary<Req, Res>((request, { principal }) => handler(request, principal));

  return {
    getBalance: run<GetBalanceRequest, GetBalanceResponse>(async (request, principal) => {
      const tenant = scopedTenant(principal, request.tenant);
      return { tenant, currency: deps.currency, balances: await tenantBalances(deps.sql, tenant) };
    }),

    listEntries: run<ListEntriesRequest, ListEntriesResponse>(async (request, principal) => {
      const tenant = scopedTenant(principal, request.tenant);
      const limit = Math.min(request.pageSize || 100, 1000);
      const beforeId = request.pageToken ? Number(request.pageToken) : undefined;
      if (beforeId !== undefined && !Number.isSafeInteger(beforeId)) throw new DomainError('INVALID_ARGUMENT', 'page_token is not one this API returned');
      const rows = await tenantEntries(deps.sql, tenant, { requestId: request.requestId || undefined, limit, beforeId });
      return {
        entries: rows.map((r) => ({
          transactionId: r.transaction_id,
          usageId: r.usage_id ?? '',
          requestId: r.request_id ?? '',
          account: r.account_id,
          side: r.side === 'debit' ? EntrySide.ENTRY_SIDE_DEBIT : EntrySide.ENTRY_SIDE_CREDIT,
          amountMicros: Number(r.amount_micros),
          postedUnixMs: r.posted_at.getTime(),
          priceVersion: r.price_version ?? '',
        })),
        nextPageToken: rows.length === limit ? rows[rows.length - 1]!.id : '',
      };
    }),

    getInvoice: run<GetInvoiceRequest, GetInvoiceResponse>(async (request, principal) => {
      const tenant = scopedTenant(principal, request.tenant);
      const period = request.period ? parsePeriod(request.period) : periodOf(deps.now());
      if (!period) throw new DomainError('INVALID_ARGUMENT', 'period must be a month, "YYYY-MM"');
      return { invoice: await loadInvoice(deps.sql, { tenant, period, books: deps.books(), currency: deps.currency, nowMs: deps.now() }) };
    }),

    listUsageRollups: run<ListUsageRollupsRequest, ListUsageRollupsResponse>(async (request, principal) => {
      const tenant = scopedTenant(principal, request.tenant);
      const endMs = request.endUnixMs || deps.now();
      const startMs = request.startUnixMs || endMs - 3_600_000;
      if (endMs <= startMs || endMs - startMs > MAX_ROLLUP_WINDOW_MS)
        throw new DomainError('INVALID_ARGUMENT', 'the window must be non-empty and at most 31 days');
      const limit = Math.min(request.pageSize || 500, 5000);
      const offset = request.pageToken ? Number(request.pageToken) : 0;
      if (!Number.isSafeInteger(offset) || offset < 0) throw new DomainError('INVALID_ARGUMENT', 'page_token is not one this API returned');
      const rows = await listRollups(deps.sql, { tenant, feature: request.feature || undefined, startMs, endMs, limit, offset });
      return {
        tenant,
        rollups: rows.map((r) => ({
          minuteUnixMs: r.minuteMs,
          feature: r.feature,
          model: r.model,
          tier: tierFromText(r.tier),
          pool: r.pool,
          requests: r.requests,
          inputTokens: r.inputTokens,
          cachedInputTokens: r.cachedInputTokens,
          outputTokens: r.outputTokens,
          gpuSeconds: r.gpuSeconds,
        })),
        nextPageToken: rows.length === limit ? String(offset + limit) : '',
      };
    }),

    getBudget: run<GetBudgetRequest, GetBudgetResponse>(async (request, principal) => {
      const tenant = scopedTenant(principal, request.tenant);
      return { state: await deps.budgets.stateOf(tenant) };
    }),

    setBudget: run<SetBudgetRequest, SetBudgetResponse>(async (request, principal) => {
      const tenant = operatorTenant(principal, request.tenant, 'setting a budget');
      const budget = { tenant, feature: request.feature, softLimitMicros: request.softLimitMicros, hardLimitMicros: request.hardLimitMicros };
      const problem = rejectBudget(budget);
      if (problem) throw new DomainError('INVALID_ARGUMENT', problem);
      await saveBudget(deps.sql, budget, deps.now());
      await deps.budgets.budgetChanged(tenant);
      return { state: await deps.budgets.stateOf(tenant) };
    }),

    addCredit: run<AddCreditRequest, AddCreditResponse>(async (request, principal) => {
      const tenant = operatorTenant(principal, request.tenant, 'adding prepaid credit');
      const r = await addCredit(deps.sql, { tenant, amountMicros: request.amountMicros, reference: request.reference });
      return { transactionId: r.transactionId, duplicate: r.duplicate, prepaidCreditMicros: r.prepaidCreditMicros };
    }),
  };
}

import { randomUUID } from 'node:crypto';
import { ACT_FOR_TENANT_HEADER, actFor, type Keyring, type Principal } from '@switchyard/auth';
import type { AuditPublisher } from '@switchyard/bus';
import {
  DomainError,
  isTenantId,
  EntrySide,
  tierFromText,
  type AddCreditRequest,
  type AddCreditResponse,
  type CreateReservationRequest,
  type CreateReservationResponse,
  type GetFleetReportRequest,
  type GetFleetReportResponse,
  type ListReservationsRequest,
  type ListReservationsResponse,
  type Reservation as ReservationMessage,
  type BillingServiceServer,
  type BudgetState,
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
import { parsePeriod, periodOf, selectPriceBook, type PriceBook, type PriceCatalog } from '@switchyard/pricing';
import type { Logger } from '@switchyard/telemetry';
import { listRollups } from '@switchyard/usage-store';
import type { Sql } from 'postgres';
import { rejectBudget } from './domain/budget.js';
import type { PoolCost } from './domain/posting.js';
import { decideReservation, totalFee, type ReservablePool } from './domain/reservation.js';
import { fleetReport } from './fleet.js';
import { feesCharged, loadReservations, saveReservation, type ReservationCache, type StoredReservation } from './reservations.js';
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
  /** The price-book versions, for the reserved-capacity terms in force. */
  readonly catalog: () => PriceCatalog;
  /** Pools reservations may name. */
  readonly reservable: ReadonlyMap<string, ReservablePool>;
  /** Pool prices, for the fleet report. */
  readonly poolCosts: ReadonlyMap<string, PoolCost>;
  readonly reservations: ReservationCache;
  /**
   * Whether a tenant exists (settings or an active key in the `tenants` bucket, or a seed
   * key): writes for any other are refused, so a typo opens no account. Default: any does.
   */
  readonly tenantExists?: (tenant: string) => boolean;
  /** Where operator writes (and refused attempts) are recorded. */
  readonly audit: AuditPublisher;
}

const reservationMessage = (r: StoredReservation, charged: ReadonlyMap<string, number>): ReservationMessage => ({
  reservationId: r.id,
  tenant: r.tenant,
  pools: [...r.pools],
  model: r.model,
  gpus: r.gpus,
  startUnixMs: r.startMs,
  endUnixMs: r.endMs,
  feePerGpuHourMicros: r.feePerGpuHourMicros,
  priceVersion: r.priceVersion,
  totalFeeMicros: totalFee(r),
  feeChargedMicros: charged.get(r.id) ?? 0,
  createdUnixMs: r.createdMs,
});

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

const unknownTenant = (tenant: string) =>
  new DomainError('NOT_FOUND', `no tenant "${tenant}": create it first (switchyard tenant ${tenant}, or switchyard key create --tenant ${tenant})`);

/** The tenant an operator's write is for: a valid id of a tenant that exists. */
function operatorTenant(principal: Principal, tenant: string, what: string, exists: (tenant: string) => boolean = () => true): string {
  if (!principal.operator) throw new DomainError('PERMISSION_DENIED', `${what} needs an operator key`);
  if (!isTenantId(tenant)) throw new DomainError('INVALID_ARGUMENT', 'tenant must be 1-64 letters, digits, "-" or "_"');
  if (!exists(tenant)) throw unknownTenant(tenant);
  return tenant;
}

export function billingHandlers(deps: BillingHandlerDeps): BillingServiceServer {
  const { unary } = createGrpcEdge({
    logger: deps.logger,
    // The act-for header means here what it means on admission: a tenant's key naming a tenant is refused.
    authenticate: (metadata) => actFor(deps.keyring.authenticate(authorizationOf(metadata)), metadata.get(ACT_FOR_TENANT_HEADER)[0]?.toString()),
  });
  const run = <Req, Res>(handler: (request: Req, principal: Principal) => Promise<Res>) =>
    unary<Req, Res>((request, { principal }) => handler(request, principal));
  const actor = (p: Principal) => ({ keyId: p.keyId, tenant: p.tenant });
  /**
   * An operator write: a valid key that is not an operator's is refused and the attempt
   * recorded (outcome denied); what `write` did is recorded once it committed.
   */
  const audited = async <Res>(
    principal: Principal,
    action: 'budget-set' | 'credit-add' | 'reservation-create',
    tenant: string,
    what: string,
    write: () => Promise<{ response: Res; before?: unknown; after?: unknown }>,
  ): Promise<Res> => {
    const scope = isTenantId(tenant) ? tenant : undefined;
    if (!principal.operator) {
      const reason = `${what} needs an operator key`;
      await deps.audit.record({ actor: actor(principal), action, target: tenant, scope, outcome: 'denied', reason });
      throw new DomainError('PERMISSION_DENIED', reason);
    }
    const { response, before, after } = await write();
    await deps.audit.record({ actor: actor(principal), action, target: tenant, scope, before, after, outcome: 'allowed' });
    return response;
  };
  const budgetOf = (state: BudgetState, feature: string) => {
    const scope = state.scopes.find((s) => s.feature === feature);
    return scope && { feature, softLimitMicros: scope.softLimitMicros, hardLimitMicros: scope.hardLimitMicros };
  };

  const createReservation = async (request: CreateReservationRequest): Promise<CreateReservationResponse> => {
    // An invalid id is the decider's to explain; a valid one must name a tenant that exists.
    if (isTenantId(request.tenant) && deps.tenantExists && !deps.tenantExists(request.tenant)) throw unknownTenant(request.tenant);
    const nowMs = deps.now();
    const decided = decideReservation(
      {
        id: request.reservationId || `res-${randomUUID()}`,
        tenant: request.tenant,
        pools: request.pools,
        gpus: request.gpus,
        startMs: request.startUnixMs,
        endMs: request.endUnixMs,
      },
      deps.reservable,
      selectPriceBook(deps.catalog(), nowMs),
    );
    if (decided.problem !== undefined) throw new DomainError('INVALID_ARGUMENT', decided.problem);
    const saved = await saveReservation(deps.sql, decided.reservation);
    // Pricing on this replica applies it at once; others within their refresh.
    await deps.reservations.refresh();
    return {
      reservation: reservationMessage(saved.reservation, await feesCharged(deps.sql, saved.reservation.tenant)),
      duplicate: saved.duplicate,
    };
  };

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

    setBudget: run<SetBudgetRequest, SetBudgetResponse>((request, principal) =>
      audited(principal, 'budget-set', request.tenant, 'setting a budget', async () => {
        const tenant = operatorTenant(principal, request.tenant, 'setting a budget', deps.tenantExists);
        const budget = { tenant, feature: request.feature, softLimitMicros: request.softLimitMicros, hardLimitMicros: request.hardLimitMicros };
        const problem = rejectBudget(budget);
        if (problem) throw new DomainError('INVALID_ARGUMENT', problem);
        const before = budgetOf(await deps.budgets.stateOf(tenant), request.feature);
        await saveBudget(deps.sql, budget, deps.now());
        await deps.budgets.budgetChanged(tenant);
        const state = await deps.budgets.stateOf(tenant);
        return { response: { state }, before, after: budgetOf(state, request.feature) };
      }),
    ),

    addCredit: run<AddCreditRequest, AddCreditResponse>((request, principal) =>
      audited(principal, 'credit-add', request.tenant, 'adding prepaid credit', async () => {
        const tenant = operatorTenant(principal, request.tenant, 'adding prepaid credit', deps.tenantExists);
        const r = await addCredit(deps.sql, { tenant, amountMicros: request.amountMicros, reference: request.reference });
        const response = { transactionId: r.transactionId, duplicate: r.duplicate, prepaidCreditMicros: r.prepaidCreditMicros };
        return {
          response,
          before: { prepaidCreditMicros: r.duplicate ? r.prepaidCreditMicros : r.prepaidCreditMicros - request.amountMicros },
          after: { prepaidCreditMicros: r.prepaidCreditMicros, amountMicros: request.amountMicros, reference: request.reference, duplicate: r.duplicate },
        };
      }),
    ),

    createReservation: run<CreateReservationRequest, CreateReservationResponse>((request, principal) =>
      audited(principal, 'reservation-create', request.tenant, 'creating a reservation', async () => {
        const response = await createReservation(request);
        const r = response.reservation;
        return {
          response,
          after: r && {
            reservationId: r.reservationId,
            pools: r.pools,
            gpus: r.gpus,
            startUnixMs: r.startUnixMs,
            endUnixMs: r.endUnixMs,
            duplicate: response.duplicate,
          },
        };
      }),
    ),

    listReservations: run<ListReservationsRequest, ListReservationsResponse>(async (request, principal) => {
      const tenant = !request.tenant && principal.operator ? undefined : scopedTenant(principal, request.tenant);
      const [rows, charged] = await Promise.all([loadReservations(deps.sql, tenant), feesCharged(deps.sql, tenant)]);
      return { reservations: rows.map((r) => reservationMessage(r, charged)) };
    }),

    getFleetReport: run<GetFleetReportRequest, GetFleetReportResponse>(async (request, principal) => {
      if (!principal.operator) throw new DomainError('PERMISSION_DENIED', 'the fleet report needs an operator key');
      const period = request.period ? parsePeriod(request.period) : periodOf(deps.now());
      if (!period) throw new DomainError('INVALID_ARGUMENT', 'period must be a month, "YYYY-MM"');
      const pools = await fleetReport(deps.sql, deps.poolCosts, period);
      const sum = (f: (p: (typeof pools)[number]) => number) => pools.reduce((s, p) => s + f(p), 0);
      const provisioned = sum((p) => p.provisionedGpuSeconds);
      const used = sum((p) => p.usedGpuSeconds);
      return {
        period: period.period,
        currency: deps.currency,
        pools,
        provisionedGpuSeconds: provisioned,
        usedGpuSeconds: used,
        utilization: provisioned > 0 ? used / provisioned : 0,
        idleCostMicros: sum((p) => p.idleCostMicros),
      };
    }),
  };
}

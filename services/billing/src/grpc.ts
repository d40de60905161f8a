import type { Metadata, ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import type { Keyring, Principal } from '@switchyard/auth';
import {
  DomainError,
  EntrySide,
  toGrpcError,
  type BillingServiceServer,
  type GetBalanceRequest,
  type GetBalanceResponse,
  type ListEntriesRequest,
  type ListEntriesResponse,
} from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { Sql } from 'postgres';
import { tenantBalances, tenantEntries } from './ledger.js';

export interface BillingHandlerDeps {
  readonly sql: Sql;
  readonly keyring: Keyring;
  readonly logger: Logger;
  readonly currency: string;
}

const authorization = (metadata: Metadata) => {
  const v = metadata.get('authorization')[0];
  return typeof v === 'string' ? v : undefined;
};

/** The tenant a read may see: the caller's own, or any for an operator key. */
function scopedTenant(principal: Principal, requested: string): string {
  if (!requested || requested === principal.tenant) return principal.tenant;
  if (principal.operator) return requested;
  throw new DomainError('PERMISSION_DENIED', `this API key belongs to tenant "${principal.tenant}" and cannot read "${requested}"`);
}

export function billingHandlers(deps: BillingHandlerDeps): BillingServiceServer {
  const run = <Req, Res>(handler: (request: Req, principal: Principal) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      void (async () => {
        const principal = deps.keyring.authenticate(authorization(call.metadata));
        callback(null, await handler(call.request, principal));
      })().catch((e) => {
        if (!(e instanceof DomainError)) deps.logger.error({ err: e }, 'billing read failed');
        callback(toGrpcError(e));
      });
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
          usageId: r.usage_id,
          requestId: r.request_id,
          account: r.account_id,
          side: r.side === 'debit' ? EntrySide.ENTRY_SIDE_DEBIT : EntrySide.ENTRY_SIDE_CREDIT,
          amountMicros: Number(r.amount_micros),
          postedUnixMs: r.posted_at.getTime(),
          priceVersion: r.price_version,
        })),
        nextPageToken: rows.length === limit ? rows[rows.length - 1]!.id : '',
      };
    }),
  };
}

import { Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import {
  BillingServiceClient,
  type AddCreditRequest,
  type AddCreditResponse,
  type GetBalanceResponse,
  type GetBudgetResponse,
  type GetInvoiceResponse,
  type SetBudgetRequest,
  type SetBudgetResponse,
} from '@switchyard/contracts';
import { findLocalEnv, readLocalEnv } from './local-env.js';
import { channelCredentials } from './tls-target.js';

/** Where billing listens and the key to call it with. */
export interface BillingTarget {
  readonly address: string;
  readonly apiKey: string;
  /** Plaintext or TLS, by `SWITCHYARD_TLS` / `SWITCHYARD_TLS_CA`. */
  readonly credentials: ChannelCredentials;
}

/**
 * Billing's address from `--billing`, `$SWITCHYARD_BILLING_ADDR` or `.switchyard/local.env`; the
 * key from `$SWITCHYARD_OPERATOR_KEY`, else `$SWITCHYARD_API_KEY` or the local one (a tenant key
 * reads only its own tenant; setting budgets and adding credit need an operator key).
 */
export function resolveBillingTarget(o: { billing?: string }, env: NodeJS.ProcessEnv): BillingTarget {
  const file = findLocalEnv();
  const local = file ? readLocalEnv(file) : {};
  const address = o.billing ?? env.SWITCHYARD_BILLING_ADDR ?? local.SWITCHYARD_BILLING_ADDR;
  const apiKey = env.SWITCHYARD_OPERATOR_KEY ?? env.SWITCHYARD_API_KEY ?? local.SWITCHYARD_API_KEY;
  if (!address) throw new Error('no billing to call: run `pnpm start` first, or pass --billing host:port or set SWITCHYARD_BILLING_ADDR');
  if (!apiKey) throw new Error('no key to call billing with: set SWITCHYARD_OPERATOR_KEY (see `switchyard key create --operator`)');
  return { address, apiKey, credentials: channelCredentials(env) };
}

/** Every call waits at most this long for billing. */
const CALL_TIMEOUT_MS = 10_000;

/** BillingService's calls the FinOps commands make, as promises; errors are grpc-js ServiceErrors. */
export function billingCalls(target: BillingTarget) {
  const client = new BillingServiceClient(target.address, target.credentials);
  const metadata = () => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${target.apiKey}`);
    return m;
  };
  const options = () => ({ deadline: Date.now() + CALL_TIMEOUT_MS });
  const unary = <T>(call: (cb: (e: ServiceError | null, r?: T) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => call((e, r) => (e ? reject(e) : resolve(r as T))));
  return {
    getBudget: (tenant: string) => unary<GetBudgetResponse>((cb) => client.getBudget({ tenant }, metadata(), options(), cb)),
    setBudget: (r: SetBudgetRequest) => unary<SetBudgetResponse>((cb) => client.setBudget(r, metadata(), options(), cb)),
    addCredit: (r: AddCreditRequest) => unary<AddCreditResponse>((cb) => client.addCredit(r, metadata(), options(), cb)),
    getBalance: (tenant: string) => unary<GetBalanceResponse>((cb) => client.getBalance({ tenant }, metadata(), options(), cb)),
    getInvoice: (tenant: string, period: string) => unary<GetInvoiceResponse>((cb) => client.getInvoice({ tenant, period }, metadata(), options(), cb)),
    close: () => client.close(),
  };
}

export type BillingCalls = ReturnType<typeof billingCalls>;

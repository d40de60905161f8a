import { credentials, Metadata, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import {
  AdmissionServiceClient,
  BillingServiceClient,
  Tier,
  type CompleteResponse,
  type GenerateResponse,
  type GetBalanceResponse,
  type GetRequestResponse,
  type ListEntriesResponse,
} from '@switchyard/contracts';

export interface SwitchyardClientOptions {
  /** Admission `host:port`, e.g. `127.0.0.1:50051`. */
  readonly address: string;
  readonly apiKey: string;
  /** Billing `host:port`; only needed for balance and entry reads. */
  readonly billingAddress?: string;
  /**
   * Call over TLS. `ca` (PEM) is the authority that signed the servers' certificates; without
   * it the system's trusted roots are used. Default plaintext, as `switchyard up` serves.
   */
  readonly tls?: { readonly ca?: string | Buffer };
}

export interface GenerateParams {
  readonly model: string;
  readonly prompt: string;
  readonly maxTokens?: number;
  readonly tier?: Tier;
  readonly feature?: string;
  readonly seed?: number;
  readonly idempotencyKey?: string;
  /** Up to 4 sequences that end the output; the text stops before the first one. Default none. */
  readonly stop?: readonly string[];
  /** Milliseconds the whole call may take. */
  readonly timeoutMs?: number;
}

const request = (p: GenerateParams) => ({
  model: p.model,
  prompt: p.prompt,
  maxTokens: p.maxTokens ?? 0,
  tier: p.tier ?? Tier.TIER_UNSPECIFIED,
  feature: p.feature ?? '',
  seed: p.seed ?? 0,
  idempotencyKey: p.idempotencyKey ?? '',
  stop: [...(p.stop ?? [])],
});

const unary = <T>(call: (cb: (e: ServiceError | null, r?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => call((e, r) => (e ? reject(e) : resolve(r as T))));

/**
 * Reconnects within a second or two of admission's return: grpc-js waits 1 s after a refused
 * connection and 1.6x longer after each, so a restart of ~2 s left callers failing for ~5 s.
 */
const CHANNEL_OPTIONS = { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2_000 };

/** A typed client for upstream apps; errors are grpc-js ServiceErrors with `code` and `details`. */
export function createSwitchyardClient(options: SwitchyardClientOptions) {
  const channel = () => (options.tls ? credentials.createSsl(options.tls.ca === undefined ? null : Buffer.from(options.tls.ca)) : credentials.createInsecure());
  const admission = new AdmissionServiceClient(options.address, channel(), CHANNEL_OPTIONS);
  const billing = options.billingAddress ? new BillingServiceClient(options.billingAddress, channel(), CHANNEL_OPTIONS) : undefined;
  const metadata = () => {
    const m = new Metadata();
    m.set('authorization', `Bearer ${options.apiKey}`);
    return m;
  };
  const callOptions = (timeoutMs?: number) => (timeoutMs ? { deadline: Date.now() + timeoutMs } : {});
  const needBilling = () => {
    if (!billing) throw new Error('pass billingAddress to read balances and entries');
    return billing;
  };

  return {
    /**
     * Streams a generation: a `started` event, then `chunk`s, then `finished`. The grpc-js call
     * is both an async iterable (`for await`) and a stream with `data` / `end` / `error` events
     * (cheaper per chunk, for callers that count microseconds), and it has `cancel()`.
     */
    generate(params: GenerateParams): ClientReadableStream<GenerateResponse> {
      return admission.generate(request(params), metadata(), callOptions(params.timeoutMs));
    },
    complete: (params: GenerateParams) => unary<CompleteResponse>((cb) => admission.complete(request(params), metadata(), callOptions(params.timeoutMs), cb)),
    getRequest: (requestId: string) => unary<GetRequestResponse>((cb) => admission.getRequest({ requestId }, metadata(), cb)),
    getBalance: (tenant = '') => unary<GetBalanceResponse>((cb) => needBilling().getBalance({ tenant }, metadata(), cb)),
    listEntries: (params: { tenant?: string; requestId?: string; pageSize?: number; pageToken?: string } = {}) =>
      unary<ListEntriesResponse>((cb) =>
        needBilling().listEntries(
          { tenant: params.tenant ?? '', requestId: params.requestId ?? '', pageSize: params.pageSize ?? 0, pageToken: params.pageToken ?? '' },
          metadata(),
          cb,
        ),
      ),
    close() {
      admission.close();
      billing?.close();
    },
  };
}

export type SwitchyardClient = ReturnType<typeof createSwitchyardClient>;

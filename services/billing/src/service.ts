import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Keyring } from '@switchyard/auth';
import { consumeDurable, type JetStreamClient, type RunningConsumer } from '@switchyard/bus';
import { BillingServiceService, DomainError, expectPayload, streams } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import type { Sql } from 'postgres';
import { billingHandlers } from './grpc.js';
import { postUsage } from './ledger.js';
import { migrate } from './migrate.js';
import { DEFAULT_PRICE_BOOK, priceUsage, type PriceBook } from '@switchyard/pricing';

export interface BillingDeps {
  readonly js: JetStreamClient;
  readonly sql: Sql;
  readonly keyring: Keyring;
  readonly logger: Logger;
  /** `host:port` for the gRPC read API; port 0 picks a free one. */
  readonly listen: string;
  readonly priceBook?: PriceBook;
}

/** Migrates the ledger, posts billable usage exactly once, and serves tenant-scoped reads. */
export function createBilling(deps: BillingDeps) {
  const book = deps.priceBook ?? DEFAULT_PRICE_BOOK;
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  let consumer: RunningConsumer | undefined;
  return {
    /** Resolves with the bound `host:port`. */
    async start(): Promise<string> {
      const applied = await migrate(deps.sql);
      if (applied.length) deps.logger.info({ applied }, 'ledger migrated');
      consumer = await consumeDurable({
        js: deps.js,
        stream: streams.BILLING.name,
        durable: 'billing',
        filterSubject: 'billing.usage.>',
        concurrency: 16,
        // Money must survive a database outage of minutes, not be dead-lettered in seconds.
        maxDeliver: 60,
        backoffMs: [200, 1_000, 5_000, 10_000],
        onError: (e, context) => deps.logger.error({ err: e }, context),
        handle: async ({ event }) => {
          const usage = expectPayload(event, 'billableUsage').billableUsage;
          let price;
          try {
            price = priceUsage(usage, book);
          } catch (e) {
            // Unpriceable usage is parked on the dead-letter subject for an operator, not retried.
            throw new DomainError('FAILED_PRECONDITION', (e as Error).message, { cause: e, retryable: false });
          }
          const posted = await postUsage(deps.sql, usage, price);
          if (!posted) deps.logger.debug({ usageId: usage.usageId }, 'usage already posted');
        },
      });
      server.addService(BillingServiceService, billingHandlers({ sql: deps.sql, keyring: deps.keyring, logger: deps.logger, currency: 'USD' }));
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(deps.listen, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
      );
      return `${deps.listen.slice(0, deps.listen.lastIndexOf(':'))}:${port}`;
    },
    async stop() {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await consumer?.stop();
    },
  };
}

export type Billing = ReturnType<typeof createBilling>;

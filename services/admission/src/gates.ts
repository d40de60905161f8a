import type { Principal, TenantSettings, TierLimits } from '@switchyard/auth';
import { publishDecision, type NatsConnection } from '@switchyard/bus';
import { DomainError, PolicyAction, type BudgetState, type TierName } from '@switchyard/contracts';
import { priceUsage, type PriceBook } from '@switchyard/pricing';
import type { BudgetLedger } from './budget-ledger.js';
import type { AdmissionMetrics, RefusalReason } from './metrics.js';
import type { PolicyClient } from './policy-client.js';
import { budgetPlan, softBreaches } from './domain/budget-plan.js';
import { rateBuckets } from './domain/quota.js';
import type { RateLimiter } from './rate-limiter.js';
import type { GenerationParams } from './domain/validate.js';

export interface GateDeps {
  readonly nc: NatsConnection;
  readonly policy: PolicyClient;
  readonly limiter: RateLimiter;
  readonly budgets: BudgetLedger;
  /** Rate limits per tenant (the `tenants` bucket). */
  readonly tenantSettings: (tenant: string) => TenantSettings | undefined;
  /** Limits for tenants whose settings name none for a tier. */
  readonly defaultLimits: Readonly<Record<TierName, TierLimits>>;
  /** Budgets and the month's spend, as billing (their owner) last published them. */
  readonly budgetState: (tenant: string) => BudgetState | undefined;
  /** Billing's price-book version in force at a time. */
  readonly priceBookAt: (atMs: number) => PriceBook;
  /** Counts refusals by why; none counts nothing. */
  readonly metrics?: AdmissionMetrics;
  readonly now: () => number;
}

/** What passed the gates: the prompt as policy let it through. */
export interface Cleared {
  readonly prompt: string;
}

/**
 * The checks between authentication and admission: tier permission and size first (no round
 * trip), then policy and rate limits together, then the budget reservation (the only one that
 * must be undone if a later step fails). Every refusal publishes an admission decision saying why.
 */
export async function passGates(deps: GateDeps, principal: Principal, params: GenerationParams, requestId: string, traceparent: string): Promise<Cleared> {
  const { tenant } = principal;
  const refuse = (reason: RefusalReason, error: DomainError): never => {
    deps.metrics?.refused(reason, params.tierName);
    publishDecision(deps.nc, 'admission', tenant, requestId, { action: `refuse-${reason}`, reason: error.message, user: params.user }, deps.now(), traceparent);
    throw error;
  };

  if (principal.tiers.length > 0 && !principal.tiers.includes(params.tierName)) {
    refuse('tier', new DomainError('PERMISSION_DENIED', `this API key may use tiers ${principal.tiers.join(', ')}, not ${params.tierName}`));
  }

  const settings = deps.tenantSettings(tenant);
  const limits = settings?.limits[params.tierName] ?? deps.defaultLimits[params.tierName];
  const tokens = params.promptTokens + params.maxTokens;
  if (tokens > limits.tokensPerMinute) {
    refuse(
      'size',
      new DomainError(
        'INVALID_ARGUMENT',
        `prompt + max_tokens is ${tokens} tokens, more than the ${params.tierName} limit of ${limits.tokensPerMinute} tokens/min; lower max_tokens`,
      ),
    );
  }

  // Policy and the rate limiter answer at the same time: a first token waits for the slower of
  // two round trips, not for both. A prompt policy blocks still counts against the tenant's
  // rate limits, as any request it sent does.
  const [verdict, rate] = await Promise.all([
    deps.policy.check(tenant, requestId, params.prompt, traceparent),
    deps.limiter.take(rateBuckets(tenant, params.tierName, limits, tokens)),
  ]);
  if (verdict.action === PolicyAction.POLICY_ACTION_BLOCK) {
    refuse(
      'policy',
      new DomainError('PERMISSION_DENIED', `prompt blocked by policy (${verdict.categories.join(', ') || 'policy'}; rules ${verdict.ruleIds.join(', ')})`),
    );
  }
  if (!rate.allowed) {
    refuse(
      'rate',
      new DomainError('RESOURCE_EXHAUSTED', `rate limit reached: ${rate.label}; retry in ${Math.ceil(rate.retryAfterMs / 1000)} s`, {
        retryAfterMs: rate.retryAfterMs,
        retryable: true,
      }),
    );
  }

  const plan = budgetPlan(deps.budgetState(tenant), tenant, params.feature, deps.now());
  if (plan.specs.length === 0) return { prompt: verdict.redactedText };
  const worstCase = worstCaseMicros(deps.priceBookAt(deps.now()), params, requestId, tenant);
  const reservation = await deps.budgets.reserve(requestId, worstCase, plan.specs, { model: params.model, tier: params.tier });
  if (!reservation.reserved) {
    refuse(
      'budget',
      new DomainError(
        'RESOURCE_EXHAUSTED',
        `${reservation.label} would be exceeded: this request may cost up to ${worstCase} micros; lower max_tokens or raise the budget`,
        // Waiting does not refill a monthly budget: no retry hint, and HTTP callers are told not to retry.
        { reason: 'insufficient_quota', retryable: false },
      ),
    );
  } else {
    for (const label of softBreaches(plan, reservation.reserved ? reservation.committedMicros : [])) {
      publishDecision(deps.nc, 'admission', tenant, requestId, { action: 'warn-budget', reason: `soft limit passed: ${label}`, user: params.user }, deps.now());
    }
  }
  return { prompt: verdict.redactedText };
}

/**
 * The most a request can cost: its prompt plus max_tokens at its model's price. A model the
 * book does not name yet (an alias the scheduler resolves later) reserves at the dearest
 * price in the book, so a budget is never under-reserved.
 */
function worstCaseMicros(book: PriceBook, params: GenerationParams, requestId: string, tenant: string): number {
  const priced = book.models[params.model]
    ? params.model
    : Object.keys(book.models).reduce((a, b) => (book.models[a]!.outputPer1k >= book.models[b]!.outputPer1k ? a : b));
  return priceUsage(
    {
      usageId: '',
      requestId,
      tenant,
      feature: params.feature,
      model: priced,
      tier: params.tier,
      pool: '',
      gpuSeconds: 0,
      recordedUnixMs: 0,
      usage: { inputTokens: params.promptTokens, cachedInputTokens: 0, outputTokens: params.maxTokens },
    },
    book,
  ).amountMicros;
}

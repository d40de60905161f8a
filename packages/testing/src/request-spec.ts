import { Tier, subjects, type RequestSpec } from '@switchyard/contracts';

/**
 * A request as admission publishes it, with defaults a test need not spell: tenant `acme`,
 * realtime, Llama 3.1 8B, 16 prompt and 8 output tokens, its own token inbox, admitted now.
 * `overrides` set what the test is about.
 */
export function testRequestSpec(requestId: string, overrides: Partial<RequestSpec> = {}): RequestSpec {
  return {
    requestId,
    tenant: 'acme',
    tier: Tier.TIER_REALTIME,
    model: 'llama-3.1-8b',
    prompt: 'hello',
    promptTokens: 16,
    maxTokens: 8,
    feature: 'test',
    seed: 1,
    inbox: subjects.tokenInbox(requestId),
    relayInbox: '',
    replacedFrom: '',
    prefixHashes: [],
    prefixBlockTokens: 0,
    traceparent: '',
    stop: [],
    deadlineUnixMs: 0,
    admittedUnixMs: Date.now(),
    ...overrides,
  };
}

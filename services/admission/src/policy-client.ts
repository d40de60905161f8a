import { credentials, Metadata } from '@grpc/grpc-js';
import { CheckTarget, DomainError, PolicyServiceClient, type CheckResponse } from '@switchyard/contracts';

export interface PolicyClient {
  check(tenant: string, requestId: string, text: string): Promise<CheckResponse>;
  close(): void;
}

/**
 * Asks the policy service over gRPC. Fails closed: if policy cannot answer within the
 * timeout, the request is refused as UNAVAILABLE rather than admitted unchecked.
 */
export function createPolicyClient(address: string, timeoutMs = 2_000): PolicyClient {
  const client = new PolicyServiceClient(address, credentials.createInsecure());
  return {
    check(tenant, requestId, text) {
      return new Promise((resolve, reject) => {
        client.check(
          { tenant, requestId, text, target: CheckTarget.CHECK_TARGET_PROMPT },
          new Metadata(),
          { deadline: Date.now() + timeoutMs },
          (error, response) =>
            error
              ? reject(new DomainError('UNAVAILABLE', 'the policy service did not answer; try again shortly', { cause: error, retryAfterMs: 1_000 }))
              : resolve(response),
        );
      });
    },
    close: () => client.close(),
  };
}

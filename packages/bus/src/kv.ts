import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvOptions } from '@nats-io/kv';

/** How a bucket is created when it is missing: `ttl` (ms), `replicas` (default 1), `history`... */
export type BucketOptions = Partial<KvOptions>;

/**
 * Opens a KV bucket, creating it on first use. The options apply only to that creation: an
 * existing bucket keeps its TTL and replica count (raise them with `nats stream edit KV_<name>`).
 */
export async function openBucket(nc: NatsConnection, name: string, options: BucketOptions = {}): Promise<KV> {
  return new Kvm(nc).create(name, options);
}

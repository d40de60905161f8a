import { ServerCredentials, type Metadata, type Server } from '@grpc/grpc-js';
import { DomainError } from './domain-error.js';

/** Binds a server to `host:port` (port 0 picks a free one) and resolves with the bound `host:port`. */
export async function bindServer(server: Server, listen: string): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
}

/**
 * The `authorization` metadata of a call (`Bearer <key>`), if it sent one. Two values are
 * refused rather than one picked: which key the caller meant is unknowable, and a proxy that
 * adds its own must not decide the tenant by header order.
 */
export function authorizationOf(metadata: Metadata): string | undefined {
  const values = metadata.get('authorization');
  if (values.length > 1) {
    throw new DomainError('UNAUTHENTICATED', `the call carries ${values.length} "authorization" values; send exactly one: "authorization: Bearer <key>"`);
  }
  const value = values[0];
  return typeof value === 'string' ? value : undefined;
}

import { ServerCredentials, type Metadata, type Server } from '@grpc/grpc-js';

/** Binds a server to `host:port` (port 0 picks a free one) and resolves with the bound `host:port`. */
export async function bindServer(server: Server, listen: string): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
}

/** The `authorization` metadata of a call (`Bearer <key>`), if it sent one. */
export function authorizationOf(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  return typeof value === 'string' ? value : undefined;
}

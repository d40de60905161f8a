import { createConnection, createServer, type Socket } from 'node:net';

export interface LatencyProxy {
  /** The target's URL with host and port replaced by the proxy's. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy that holds every client-to-server write for `delayMs` before passing it
 * on (answers flow back at once): a slow link to a real server, for tests of races that only
 * show when one dependency answers late. Order within a connection is kept.
 */
export async function startLatencyProxy(targetUrl: string, delayMs: number): Promise<LatencyProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => setTimeout(() => upstream.writable && upstream.write(chunk), delayMs));
    upstream.pipe(client);
    const close = () => (client.destroy(), upstream.destroy(), sockets.delete(client), sockets.delete(upstream));
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(typeof address === 'object' && address ? address.port : 0);
  return {
    url: url.toString(),
    close: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}

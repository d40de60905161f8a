import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { collectLiveHeap } from './live-heap.js';

/** A registry with the process's default metrics and its live heap, labelled with the service name. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  collectLiveHeap(registry);
  return registry;
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Why a process is not healthy, or undefined while it is. */
export type HealthCheck = () => string | undefined;

/**
 * Serves `/metrics` (Prometheus text) and `/healthz` on the given port (0 = free port):
 * `/healthz` answers 503 with the reason while `health` names one (e.g. the bus is down).
 */
export async function serveMetrics(registry: Registry, port: number, host = '127.0.0.1', health: HealthCheck = () => undefined): Promise<MetricsServer> {
  const server: Server = createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', registry.contentType);
      res.end(await registry.metrics());
    } else if (req.url === '/healthz') {
      const problem = health();
      res.statusCode = problem ? 503 : 200;
      res.end(problem ?? 'ok');
    } else {
      res.statusCode = 404;
      res.end('not found: try /metrics or /healthz');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

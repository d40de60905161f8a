import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);

/** Settings every service shares, with the local defaults `switchyard up` uses. */
export const commonEnv = {
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Prometheus `/metrics` port; 0 picks a free one. */
  METRICS_PORT: port.default(0),
  METRICS_HOST: z.string().default('127.0.0.1'),
  /** Stop when the parent process goes away (set by `switchyard up`, so no service outlives it). */
  EXIT_WITH_PARENT: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** JetStream stream replicas: 3 on a cluster. */
  STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** OpenTelemetry's standard variables: traces are exported over OTLP/HTTP only when an endpoint (or `otlp`) is set. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().optional(),
  OTEL_TRACES_EXPORTER: z.string().optional(),
  OTEL_SERVICE_NAME: z.string().optional(),
  OTEL_SDK_DISABLED: z.string().optional(),
} as const;

export const redisEnv = { REDIS_URL: z.string().default('redis://127.0.0.1:6379') } as const;
export const databaseEnv = { DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/switchyard') } as const;

/** Splits a `host:port` listen address (the host may itself hold colons, as IPv6 does). */
export function splitHostPort(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at), port: Number(listen.slice(at + 1)) };
}

/** `host:port` for a gRPC listener. */
export const listenAddress = (fallback: string) =>
  z
    .string()
    .regex(/^[^:]+:\d+$/, 'expected host:port, e.g. 127.0.0.1:50051')
    .default(fallback);

export const portSchema = port;

/** A comma-separated setting (`a, b,c`) as its non-empty, trimmed items; empty means none. */
export const commaList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

/** A listener's TLS certificate chain and key (PEM files, re-read when they change); both or neither. */
export const tlsEnv = {
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  /** How often the files are checked for a renewed certificate. */
  TLS_RELOAD_MS: z.coerce.number().int().min(100).default(2_000),
} as const;

/** The TLS files a service's settings name, or undefined for plaintext; throws when only one of the two is set. */
export function tlsFilesOf(config: { TLS_CERT_FILE?: string; TLS_KEY_FILE?: string; TLS_RELOAD_MS: number }) {
  const { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile } = config;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile)
    throw new Error('TLS needs both TLS_CERT_FILE (the certificate chain, PEM) and TLS_KEY_FILE (its private key, PEM); set both or neither');
  return { certFile, keyFile, reloadMs: config.TLS_RELOAD_MS };
}

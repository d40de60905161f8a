import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';

/**
 * TLS for the CLI's calls, from `SWITCHYARD_TLS=on` (the system's trusted roots) or
 * `SWITCHYARD_TLS_CA=FILE` (a PEM authority, e.g. a private CA's); undefined: plaintext, as
 * `switchyard up` serves. HTTP calls (`load --http`) trust a private CA through Node's own
 * `NODE_EXTRA_CA_CERTS=FILE`.
 */
export function tlsOf(env: NodeJS.ProcessEnv): { ca?: Buffer } | undefined {
  const file = env.SWITCHYARD_TLS_CA;
  if (file) {
    try {
      return { ca: readFileSync(file) };
    } catch (e) {
      throw new Error(`cannot read SWITCHYARD_TLS_CA ${file}: ${(e as Error).message}`, { cause: e });
    }
  }
  return env.SWITCHYARD_TLS === 'on' ? {} : undefined;
}

/** grpc-js channel credentials for {@link tlsOf}. */
export function channelCredentials(env: NodeJS.ProcessEnv): ChannelCredentials {
  const tls = tlsOf(env);
  return tls ? credentials.createSsl(tls.ca ?? null) : credentials.createInsecure();
}

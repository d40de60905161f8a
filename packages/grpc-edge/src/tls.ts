import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { experimental, ServerCredentials } from '@grpc/grpc-js';

/** A listener's certificate chain and private key, PEM files read at start and again whenever they change. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the files are checked for a change. Default 2,000 ms. */
  readonly reloadMs?: number;
}

export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

const DEFAULT_RELOAD_MS = 2_000;

/** The pair as the files hold it now; throws naming the file that cannot be read. */
export function readTlsPair(files: TlsFiles): TlsPair {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`cannot read the TLS ${what} ${file}: ${(e as Error).message}`, { cause: e });
    }
  };
  return { cert: read(files.certFile, 'certificate'), key: read(files.keyFile, 'private key') };
}

/**
 * gRPC server credentials: insecure without files; with them, TLS whose certificate grpc-js's
 * file watcher re-reads every `reloadMs`, so a renewed certificate (cert-manager, certbot)
 * serves new connections without a restart. The files are read once here first, so a wrong
 * path stops the service at start with the file named, not at the first handshake.
 */
export function grpcServerCredentials(files: TlsFiles | undefined): ServerCredentials {
  if (!files) return ServerCredentials.createInsecure();
  readTlsPair(files);
  const identity = new experimental.FileWatcherCertificateProvider({
    certificateFile: files.certFile,
    privateKeyFile: files.keyFile,
    refreshIntervalMs: files.reloadMs ?? DEFAULT_RELOAD_MS,
  });
  // grpc-js's declaration names the first parameter the CA provider; its implementation takes
  // the identity first (server-credentials.js), and a null CA asks no client certificate.
  return experimental.createCertificateProviderServerCredentials(identity, null, false);
}

/**
 * Calls `onChange` with the new pair whenever either file changes (polled every `reloadMs`,
 * which also sees a file replaced by a rename, as Kubernetes updates a mounted secret). A pair
 * that cannot be read yet (one file written, the other not) is skipped: the next poll retries
 * and the listener keeps serving the old one. Returns a stop function.
 */
export function watchTlsFiles(files: TlsFiles, onChange: (pair: TlsPair) => void, onError: (e: Error) => void): () => void {
  const interval = files.reloadMs ?? DEFAULT_RELOAD_MS;
  const reload = () => {
    try {
      onChange(readTlsPair(files));
    } catch (e) {
      onError(e as Error);
    }
  };
  watchFile(files.certFile, { interval, persistent: false }, reload);
  watchFile(files.keyFile, { interval, persistent: false }, reload);
  return () => {
    unwatchFile(files.certFile, reload);
    unwatchFile(files.keyFile, reload);
  };
}

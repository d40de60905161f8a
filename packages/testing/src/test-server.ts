import type { ProcessServer } from './process-server.js';

/** A running server for tests or local mode, with the URL clients use. */
export interface TestServer {
  readonly url: string;
  /** Stops the server and removes its data; a no-op for a server we did not start. */
  dispose(): Promise<void>;
  /** The process, when we started it (for chaos tests: kill, restart). */
  readonly process?: ProcessServer;
}

import type { Logger } from '@switchyard/telemetry';

/** How long a stop may take before the process exits anyway: inside Kubernetes' 30 s grace. */
export const STOP_TIMEOUT_MS = 20_000;

/**
 * SIGTERM and SIGINT stop the process once: `stop` runs (a failure is logged and the exit code
 * is 1), the log is flushed, the process exits. A second signal during the stop is ignored.
 * A stop that has not finished after `timeoutMs` (a dependency that never answers) is logged
 * and the process exits 1 all the same: told to stop, a process stops. Returns the same stop,
 * for other reasons to stop (`reason` is logged as the signal).
 */
export function stopOnSignals(logger: Logger, name: string, stop: () => Promise<void>, timeoutMs = STOP_TIMEOUT_MS): (reason: string) => void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} stopping`);
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<'overdue'>((resolve) => (timer = setTimeout(() => resolve('overdue'), timeoutMs)));
    try {
      if ((await Promise.race([stop(), overdue])) === 'overdue') {
        logger.error({ timeoutMs }, `${name} did not stop within ${timeoutMs} ms; exiting anyway`);
        process.exitCode = 1;
      }
    } catch (e) {
      logger.error({ err: e }, 'unclean shutdown');
      process.exitCode = 1;
    } finally {
      clearTimeout(timer);
    }
    logger.flush();
    process.exit();
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return (reason) => void shutdown(reason);
}

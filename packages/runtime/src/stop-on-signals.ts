import type { Logger } from '@switchyard/telemetry';

/**
 * SIGTERM and SIGINT stop the process once: `stop` runs (a failure is logged and the exit code
 * is 1), the log is flushed, the process exits. A second signal during the stop is ignored.
 * Returns the same stop, for other reasons to stop (`reason` is logged as the signal).
 */
export function stopOnSignals(logger: Logger, name: string, stop: () => Promise<void>): (reason: string) => void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} stopping`);
    try {
      await stop();
    } catch (e) {
      logger.error({ err: e }, 'unclean shutdown');
      process.exitCode = 1;
    }
    logger.flush();
    process.exit();
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return (reason) => void shutdown(reason);
}

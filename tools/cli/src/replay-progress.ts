export interface ReplayProgressOptions {
  readonly stream: string;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly now: () => number;
}

/**
 * A `\r` line on a terminal's stderr with events read and the rate, shown once an export has
 * run for a second and redrawn at most four times a second; nothing when stderr is not a
 * terminal (a log would fill with it). stdout is never used: it may carry the rows.
 */
export function createReplayProgress(o: ReplayProgressOptions) {
  const started = o.now();
  let lastDraw = 0;
  let shown = false;
  return {
    update(read: number) {
      if (!o.stderr.isTTY) return;
      const t = o.now();
      if (t - started < 1_000 || t - lastDraw < 250) return;
      lastDraw = t;
      shown = true;
      const rate = Math.round(read / ((t - started) / 1000));
      o.stderr.write(`\rreplay ${o.stream}: ${read.toLocaleString('en')} events read, ${rate.toLocaleString('en')}/s   `);
    },
    done() {
      if (shown) o.stderr.write('\n');
    },
  };
}

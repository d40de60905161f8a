import { followEvents, type NatsConnection, type Subscription } from '@switchyard/bus';
import { filters, type UsageRecorded } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';

export interface UsageFeedDeps {
  readonly nc: NatsConnection;
  readonly logger: Logger;
  readonly onUsage: (usage: UsageRecorded) => void;
}

/**
 * Every usage event (the canaries' TTFT), subscribed only while `follow(true)`: without a
 * running canary nobody needs one delivery per completed request.
 */
export function createUsageFeed(deps: UsageFeedDeps) {
  let feed: Subscription | undefined;
  const stop = () => {
    feed?.unsubscribe();
    feed = undefined;
  };
  return {
    /** Turns the feed on or off; the canary controller's `followUsage`. */
    follow(on: boolean): void {
      if (!on) return stop();
      feed ??= followEvents(deps.nc, filters.allUsage, (e) => e.payload?.$case === 'usageRecorded' && deps.onUsage(e.payload.usageRecorded), {
        onUndecodable: (e, subject) => deps.logger.debug({ err: e, subject }, 'undecodable event ignored'),
      });
    },
    stop,
  };
}

export type UsageFeed = ReturnType<typeof createUsageFeed>;

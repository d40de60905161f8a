import { publishEvent, type JetStreamClient, type KV } from '@switchyard/bus';
import { Outcome, candidate, makeEvent, subjects, type RequestTerminated, type UsageRecorded } from '@switchyard/contracts';
import type { Logger } from '@switchyard/telemetry';
import { createCanaryStats, judgeCanary, rolledBack, type CanaryStats } from './domain/canary.js';
import type { CanaryThresholds, Route } from '../config.js';
import { updateRoute } from '../ops/routes-store.js';

export interface CanaryControllerDeps {
  readonly js: JetStreamClient;
  readonly routesKv: KV;
  readonly routes: () => ReadonlyMap<string, Route>;
  /** The version a pool serves. */
  readonly versionOf: (pool: string) => string | undefined;
  readonly thresholds: CanaryThresholds;
  readonly logger: Logger;
  readonly now: () => number;
  readonly onRollback?: (alias: string, reason: string) => void;
  /** How often running canaries are judged, ms. Default 500. */
  readonly intervalMs?: number;
  /**
   * Turns the TTFT feed (every usage event) on while some canary runs and off when none does:
   * without a canary nobody needs one delivery per completed request.
   */
  readonly followUsage?: (on: boolean) => void;
}

/**
 * Watches what each version does (terminal outcomes from LIFECYCLE, TTFT from USAGE) and
 * rolls a running canary back when it breaks a threshold: the route's canary weight goes to 0
 * (compare-and-set, so of several replicas one writes), and `decisions.routes.<alias>` says
 * why, with both versions' numbers.
 */
export function createCanaryController(deps: CanaryControllerDeps) {
  const stats: CanaryStats = createCanaryStats(deps.thresholds.windowMs);
  const started = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let judging = false;
  let following: boolean | undefined;
  const anyRunning = () => [...deps.routes().values()].some((r) => r.canary?.status === 'running');
  const follow = () => {
    const running = anyRunning();
    if (running !== following) deps.followUsage?.(running);
    following = running;
  };

  async function rollback(alias: string, route: Route, reason: string): Promise<void> {
    const canary = route.canary!;
    const nowMs = deps.now();
    let changed = false;
    const { revision } = await updateRoute(deps.routesKv, alias, (current) => {
      // Another replica (or an operator) got there first: leave their route alone.
      if (!current?.canary || current.canary.status !== 'running' || current.canary.version !== canary.version) return current ?? route;
      changed = true;
      return rolledBack(current, reason, nowMs);
    });
    if (!changed) return;
    const baseline = route.versions.filter((v) => v.version !== canary.version && v.weight > 0).map((v) => v.version);
    const c = stats.summary([canary.version], nowMs);
    const b = stats.summary(baseline, nowMs);
    await publishEvent(
      deps.js,
      subjects.routeDecision(alias),
      makeEvent(
        { id: `route-${alias}-rollback-${revision}`, tenant: '', requestId: '', nowMs },
        {
          $case: 'decision',
          decision: {
            service: 'scheduler',
            action: 'canary-rollback',
            chosen: baseline.join(','),
            categories: [],
            ruleIds: [],
            policyVersion: `${alias}@${revision}`,
            latencyMs: 0,
            user: '',
            reason: `route ${alias}: canary ${canary.version} rolled back: ${reason}`,
            candidates: [
              candidate({ id: canary.version, score: c.errorRate, reason: `canary: ${c.failures}/${c.requests} failed, p90 TTFT ${Math.round(c.ttftP90)} ms` }),
              candidate({
                id: baseline.join(','),
                score: b.errorRate,
                reason: `baseline: ${b.failures}/${b.requests} failed, p90 TTFT ${Math.round(b.ttftP90)} ms`,
              }),
            ],
          },
        },
      ),
    );
    deps.logger.warn({ route: alias, canary: canary.version, reason }, 'canary rolled back');
    deps.onRollback?.(alias, reason);
  }

  async function judge(): Promise<void> {
    if (judging) return;
    judging = true;
    try {
      follow();
      for (const [alias, route] of deps.routes()) {
        const canary = route.canary;
        if (!canary || canary.status !== 'running') continue;
        // A canary (re)started: judge it on its own outcomes only.
        if (started.get(canary.version) !== canary.sinceUnixMs) {
          started.set(canary.version, canary.sinceUnixMs);
          stats.reset(canary.version);
        }
        const verdict = judgeCanary(route, stats, deps.thresholds, deps.now());
        if (verdict.verdict === 'rollback') await rollback(alias, route, verdict.reason);
      }
    } catch (e) {
      deps.logger.error({ err: e }, 'canary check failed');
    } finally {
      judging = false;
    }
  }

  return {
    /** A request ended: completions and failures count for the pool's version. */
    terminated(t: RequestTerminated): void {
      if (t.outcome !== Outcome.OUTCOME_COMPLETED && t.outcome !== Outcome.OUTCOME_FAILED) return;
      const version = deps.versionOf(t.pool);
      if (version) stats.outcome(version, t.outcome === Outcome.OUTCOME_FAILED, deps.now());
    },
    usage(u: UsageRecorded): void {
      const version = deps.versionOf(u.pool);
      if (version && u.ttftMs > 0) stats.ttft(version, u.ttftMs, deps.now());
    },
    start() {
      follow();
      timer = setInterval(() => void judge(), deps.intervalMs ?? 500);
    },
    stop() {
      clearInterval(timer);
    },
    judge,
  };
}

export type CanaryController = ReturnType<typeof createCanaryController>;

import { createLogger } from '@switchyard/telemetry';
import { describe, expect, it } from 'vitest';
import { createCanaryController } from './controller.js';
import { defaultScheduling, routeSchema, type Route } from '../config.js';

describe('canary controller', () => {
  it('follows usage (TTFT) only while some canary runs', async () => {
    const routes = new Map<string, Route>([['chat', routeSchema.parse({ versions: [{ version: 'a', weight: 1 }] })]]);
    const switched: boolean[] = [];
    const controller = createCanaryController({
      // Judging without enough outcomes never rolls back, so the bus and the bucket are not touched.
      js: undefined as never,
      routesKv: undefined as never,
      routes: () => routes,
      versionOf: () => undefined,
      thresholds: defaultScheduling().canary,
      logger: createLogger({ service: 'test', level: 'silent' }),
      now: () => 0,
      intervalMs: 60_000,
      followUsage: (on) => switched.push(on),
    });
    controller.start();
    await controller.judge();
    routes.set(
      'chat',
      routeSchema.parse({
        versions: [
          { version: 'a', weight: 90 },
          { version: 'b', weight: 10 },
        ],
        canary: { version: 'b' },
      }),
    );
    await controller.judge();
    await controller.judge();
    routes.set(
      'chat',
      routeSchema.parse({
        versions: [
          { version: 'a', weight: 100 },
          { version: 'b', weight: 0 },
        ],
        canary: { version: 'b', status: 'rolled-back' },
      }),
    );
    await controller.judge();
    controller.stop();
    expect(switched).toEqual([false, true, false]);
  });
});

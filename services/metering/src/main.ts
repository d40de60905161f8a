import { z } from '@switchyard/config';
import { runMain, runService } from '@switchyard/runtime';
import { createMetering } from './service.js';

runMain(() =>
  runService({
    service: 'metering',
    env: z.object({}),
    async start({ logger, js }) {
      const metering = createMetering({ js, logger });
      await metering.start();
      return metering;
    },
  }),
);

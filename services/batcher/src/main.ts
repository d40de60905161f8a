import { z } from '@switchyard/config';
import { runMain, runService } from '@switchyard/runtime';
import { createBatcher } from './service.js';

runMain(() =>
  runService({
    service: 'batcher',
    env: z.object({}),
    async start({ logger, js }) {
      const batcher = createBatcher({ js, logger });
      await batcher.start();
      return batcher;
    },
  }),
);

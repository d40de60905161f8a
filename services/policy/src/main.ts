import { listenAddress, z } from '@switchyard/config';
import { runMain, runService } from '@switchyard/runtime';
import { createPolicy } from './service.js';

const env = z.object({ POLICY_LISTEN: listenAddress('127.0.0.1:50052') });

runMain(() =>
  runService({
    service: 'policy',
    env,
    async start({ config, logger, js }) {
      const policy = createPolicy({ js, logger, listen: config.POLICY_LISTEN });
      const address = await policy.start();
      logger.info({ address }, 'policy serving gRPC');
      return policy;
    },
  }),
);

import { listenAddress, z } from '@switchyard/config';
import { buckets } from '@switchyard/contracts';
import { runMain, runService } from '@switchyard/runtime';
import { createPolicy } from './service.js';

const env = z.object({ POLICY_LISTEN: listenAddress('127.0.0.1:50052') });

runMain(() =>
  runService({
    service: 'policy',
    env,
    async start({ config, logger, registry, nc, openBucket }) {
      const policies = await openBucket(buckets.policies);
      const policy = createPolicy({ nc, logger, registry, policies, listen: config.POLICY_LISTEN });
      const address = await policy.start();
      logger.info({ address }, 'policy serving gRPC');
      return policy;
    },
  }),
);

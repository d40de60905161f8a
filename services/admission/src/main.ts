import { Redis } from 'ioredis';
import { createKeyring, parseApiKeys } from '@switchyard/auth';
import { listenAddress, redisEnv, z } from '@switchyard/config';
import { runMain, runService } from '@switchyard/runtime';
import { createPolicyClient } from './policy-client.js';
import { createAdmission } from './service.js';

const env = z.object({
  ...redisEnv,
  ADMISSION_LISTEN: listenAddress('127.0.0.1:50051'),
  POLICY_ADDR: z.string().default('127.0.0.1:50052'),
  /** `tenant:keyId:sha256hex[:operator]`, comma-separated. */
  API_KEYS: z.string().min(1, 'set API_KEYS (switchyard up writes one for the dev tenant)'),
  MAX_PROMPT_TOKENS: z.coerce.number().int().positive().default(32_768),
  MAX_OUTPUT_TOKENS: z.coerce.number().int().positive().default(4_096),
  DEFAULT_MAX_TOKENS: z.coerce.number().int().positive().default(256),
});

runMain(() =>
  runService({
    service: 'admission',
    env,
    async start({ config, logger, nc, js }) {
      const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 3 });
      const admission = createAdmission({
        nc,
        js,
        redis,
        logger,
        keyring: createKeyring(parseApiKeys(config.API_KEYS)),
        policy: createPolicyClient(config.POLICY_ADDR),
        limits: { maxPromptTokens: config.MAX_PROMPT_TOKENS, maxOutputTokens: config.MAX_OUTPUT_TOKENS, defaultMaxTokens: config.DEFAULT_MAX_TOKENS },
        listen: config.ADMISSION_LISTEN,
      });
      const address = await admission.start();
      logger.info({ address }, 'admission serving gRPC');
      return { stop: async () => (await admission.stop(), redis.disconnect()) };
    },
  }),
);

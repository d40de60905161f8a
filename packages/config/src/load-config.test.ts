import { describe, expect, it } from 'vitest';
import { commonEnv } from './common.js';
import { ConfigError, loadConfig } from './load-config.js';
import { z } from 'zod';

describe('loadConfig', () => {
  const schema = z.object({ ...commonEnv, PORT: z.coerce.number().int().positive() });

  it('applies defaults and coerces numbers from strings', () => {
    const c = loadConfig(schema, { PORT: '8080' });
    expect(c.PORT).toBe(8080);
    expect(c.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(c.STREAM_REPLICAS).toBe(1);
  });

  it('names every invalid variable in one error', () => {
    const load = () => loadConfig(schema, { PORT: 'abc', LOG_LEVEL: 'loud' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/PORT:[\s\S]*LOG_LEVEL:|LOG_LEVEL:[\s\S]*PORT:/);
  });
});

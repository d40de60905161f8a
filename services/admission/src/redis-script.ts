import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type RedisScript = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

/**
 * A Lua script run with EVALSHA (ioredis falls back to EVAL once if the server lost it), so
 * the hot path sends a 40-byte hash instead of the script text on every request.
 */
export function redisScript(redis: Redis, lua: string): RedisScript {
  const name = `sy_${createHash('sha1').update(lua).digest('hex').slice(0, 12)}`;
  if (!(name in redis)) redis.defineCommand(name, { lua });
  const command = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!.bind(redis);
  return (keys, args) => command(keys.length, ...keys, ...args);
}

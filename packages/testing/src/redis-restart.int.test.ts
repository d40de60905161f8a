import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startRedis } from './servers.js';

/** One inline Redis command, its raw reply. */
function command(url: string, line: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`${line}\r\n`));
    socket.once('data', (d) => (socket.end(), resolve(d.toString())));
    socket.once('error', reject);
  });
}

describe('startRedis', () => {
  it('with appendOnly, comes back from kill -9 with its data, or without it when asked', async () => {
    // An empty environment: always a private local server, never REDIS_URL.
    const redis = await startRedis({ appendOnly: true }, {});
    try {
      expect(await command(redis.url, 'SET kept yes')).toBe('+OK\r\n');
      await redis.process!.kill();
      await redis.process!.restart();
      expect(await command(redis.url, 'GET kept')).toBe('$3\r\nyes\r\n');
      await redis.process!.kill();
      await redis.process!.restart({ withoutData: true });
      expect(await command(redis.url, 'GET kept')).toBe('$-1\r\n');
    } finally {
      await redis.dispose();
    }
  });

  it('without appendOnly keeps nothing across a restart', async () => {
    const redis = await startRedis({}, {});
    try {
      expect(await command(redis.url, 'SET kept yes')).toBe('+OK\r\n');
      await redis.process!.kill();
      await redis.process!.restart();
      expect(await command(redis.url, 'GET kept')).toBe('$-1\r\n');
    } finally {
      await redis.dispose();
    }
  });
});

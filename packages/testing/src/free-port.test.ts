import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './process-server.js';

describe('freePort', () => {
  it('gives loopback ports a server can listen on, below the ephemeral range outgoing connections draw from', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(ports.every((p) => p > 0 && p < low)).toBe(true);
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(ports[0], '127.0.0.1', resolve));
    expect(server.address()).toMatchObject({ port: ports[0] });
    await new Promise((resolve) => server.close(resolve));
  });
});

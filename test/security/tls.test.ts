import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { createSwitchyardClient } from '@switchyard/sdk';
import { waitFor } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type RunningSystem } from '../support/system.js';

// Issue #20: gRPC and HTTP listeners take TLS certificates from files and reload them on change.

const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sy-tls-'));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');

/** A self-signed certificate for 127.0.0.1 named `cn`, written where the services read it (a rename, as a secret mount updates). */
async function issue(cn: string): Promise<Buffer> {
  const cert = join(dir, `${cn}.cert.pem`);
  const key = join(dir, `${cn}.key.pem`);
  await exec('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  renameSync(key, keyFile);
  renameSync(cert, certFile);
  return readFileSync(certFile);
}

/** The common name of the certificate a TLS listener presents to a new connection. */
function presented(address: string, ca: Buffer): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, ca, ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.destroy();
      resolve(String(cn));
    });
    socket.on('error', reject);
  });
}

function httpsGet(url: string, apiKey: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers: { authorization: `Bearer ${apiKey}` } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let system: RunningSystem;
let firstCa: Buffer;

beforeAll(async () => {
  firstCa = await issue('switchyard-test-1');
  system = await startSystem({ tls: { certFile, keyFile, reloadMs: 200 } });
}, 90_000);

afterAll(async () => {
  await system?.stop();
});

describe("TLS on the callers' listeners", () => {
  it('serves gRPC (admission and billing) and the OpenAI facade over TLS, and refuses plaintext', async () => {
    const client = createSwitchyardClient({
      address: system.admissionAddress,
      apiKey: system.apiKey,
      billingAddress: system.billingAddress,
      tls: { ca: firstCa },
    });
    try {
      const done = await client.complete({ model: 'llama-3.1-8b', prompt: 'hello over TLS', maxTokens: 4 });
      expect(done.usage!.outputTokens).toBe(4);
      await expect(client.getBalance()).resolves.toBeDefined();
    } finally {
      client.close();
    }
    expect(system.httpUrl.startsWith('https://')).toBe(true);
    const models = await httpsGet(`${system.httpUrl}/models`, system.apiKey, firstCa);
    expect(models.status).toBe(200);
    expect(models.body).toContain('llama-3.1-8b');

    const plain = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey });
    try {
      await expect(plain.complete({ model: 'llama-3.1-8b', prompt: 'hello in the clear', maxTokens: 4, timeoutMs: 3_000 })).rejects.toMatchObject({
        code: expect.any(Number),
      });
    } finally {
      plain.close();
    }
    // A client that trusts another authority does not get through either.
    const stranger = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey, tls: {} });
    try {
      await expect(stranger.complete({ model: 'llama-3.1-8b', prompt: 'who are you', maxTokens: 4, timeoutMs: 3_000 })).rejects.toBeDefined();
    } finally {
      stranger.close();
    }
  });

  it('serves a renewed certificate to new connections without a restart', async () => {
    expect(await presented(system.admissionAddress, firstCa)).toBe('switchyard-test-1');
    const renewed = await issue('switchyard-test-2');
    const httpAddress = new URL(system.httpUrl).host;
    for (const address of [system.admissionAddress, httpAddress, system.billingAddress]) {
      await waitFor(`${address} presents the renewed certificate`, async () =>
        (await presented(address, renewed)) === 'switchyard-test-2' ? true : undefined,
      );
    }
    const client = createSwitchyardClient({ address: system.admissionAddress, apiKey: system.apiKey, tls: { ca: renewed } });
    try {
      const done = await client.complete({ model: 'llama-3.1-8b', prompt: 'hello again', maxTokens: 3 });
      expect(done.usage!.outputTokens).toBe(3);
    } finally {
      client.close();
    }
    expect((await httpsGet(`${system.httpUrl}/models`, system.apiKey, renewed)).status).toBe(200);
  });
});

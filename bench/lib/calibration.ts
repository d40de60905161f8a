import { spawn } from 'node:child_process';
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { connectBus, jetstream, jetstreamManager } from '@switchyard/bus';
import { freePort } from '@switchyard/testing';
import { closedLoop } from './load.js';

/**
 * How fast this machine is right now, in the figures issue #9 gives for orientation: a bare
 * grpc-js unary echo between two processes, and JetStream publishes with acks. The same VM
 * has run twice as fast on one day as on another; with these in the table, runs of
 * different days can be compared.
 */
export interface Calibration {
  readonly grpcUnaryPerSecond: number;
  readonly jetstreamPublishesPerSecond: number;
}

/** The echo server, in a process of its own as a real server would be. */
const ECHO_SERVER = `
const { Server, ServerCredentials } = require('@grpc/grpc-js');
const server = new Server();
const raw = { path: '/bench.Echo/Echo', requestStream: false, responseStream: false,
  requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b };
server.addService({ Echo: raw }, { Echo: (call, callback) => callback(null, call.request) });
server.bindAsync(process.argv[1], ServerCredentials.createInsecure(), (e) => { if (e) throw e; process.stdout.write('ready\\n'); });
`;

async function bareGrpcUnary(seconds: number): Promise<number> {
  const address = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, ['-e', ECHO_SERVER, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
    });
    const client = new Client(address, credentials.createInsecure());
    const payload = Buffer.alloc(64);
    const echo = () =>
      new Promise<number>((resolve, reject) =>
        client.makeUnaryRequest(
          '/bench.Echo/Echo',
          (b: Buffer) => b,
          (b: Buffer) => b,
          payload,
          (e: ServiceError | null) => (e ? reject(e) : resolve(0)),
        ),
      );
    await closedLoop(echo, 8, 1);
    const run = await closedLoop(echo, 64, seconds);
    client.close();
    return run.perSecond;
  } finally {
    child.kill();
  }
}

/** Publishes with acks, 1,000 outstanding, into a file-stored stream of its own. */
async function jetstreamPublishes(natsUrl: string, count: number): Promise<number> {
  const nc = await connectBus({ url: natsUrl, name: 'bench-calibration' });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'CALIBRATION', subjects: ['calibration.>'] });
  const js = jetstream(nc);
  const payload = new Uint8Array(200);
  const t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 1000 }, async () => {
      while (next < count) {
        next++;
        await js.publish('calibration.x', payload);
      }
    }),
  );
  const perSecond = count / ((performance.now() - t) / 1000);
  await jsm.streams.delete('CALIBRATION');
  await nc.close();
  return perSecond;
}

export async function calibrate(natsUrl: string, quick: boolean): Promise<Calibration> {
  return {
    grpcUnaryPerSecond: await bareGrpcUnary(quick ? 2 : 4),
    jetstreamPublishesPerSecond: await jetstreamPublishes(natsUrl, quick ? 20_000 : 50_000),
  };
}

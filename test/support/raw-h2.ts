import { connect } from 'node:net';

/** HTTP/2 frame types this client reads or writes (RFC 9113 6). */
const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;
/** RST_STREAM's CANCEL (RFC 9113 7). */
export const H2_CANCEL = 0x8;

const frame = (type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer => {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
};

/** An HPACK integer with an N-bit prefix (RFC 7541 5.1). */
const hpackInt = (value: number, prefixBits: number): number[] => {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [value];
  const out = [max];
  for (value -= max; value >= 128; value = Math.floor(value / 128)) out.push((value % 128) + 128);
  return [...out, value];
};
const hpackString = (s: string): number[] => {
  const bytes = Buffer.from(s);
  return [...hpackInt(bytes.length, 7), ...bytes];
};
/** Every header as a literal without indexing and without Huffman: no table state to keep. */
const headerBlock = (headers: ReadonlyArray<readonly [string, string]>) =>
  Buffer.from(headers.flatMap(([name, value]) => [0, ...hpackString(name), ...hpackString(value)]));

/** A gRPC message frame: uncompressed flag, length, bytes. */
export const grpcFrame = (message: Uint8Array, compressed = false): Buffer => {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
};

export interface RawH2 {
  /** Opens a stream (HEADERS, then one DATA frame that ends it) and returns its id; `reset` sends RST_STREAM CANCEL right behind. */
  open(headers: ReadonlyArray<readonly [string, string]>, body: Buffer, reset?: boolean): number;
  /** DATA bytes the server sent on each stream: what this client holds unread (it never opens the window). */
  readonly received: Map<number, number>;
  /** Streams the server ended normally (trailers or a DATA frame with END_STREAM). */
  readonly ended: Set<number>;
  /** Streams the server reset, with its error code. */
  readonly resetByServer: Map<number, number>;
  /** When each stream the server ended or reset did so (Unix ms). */
  readonly settledAtMs: Map<number, number>;
  /** The error code of the server's GOAWAY, once one came. */
  readonly goaway: () => number | undefined;
  readonly closed: () => boolean;
  /** Resolves once what was written has left this process (the socket drained). */
  drained(): Promise<void>;
  close(): void;
}

/**
 * A minimal HTTP/2 client over a plain socket, for abuse tests, doing what node's http2 client
 * will not: it never sends WINDOW_UPDATE (a reader that never drains: node's client opens the
 * window whatever the stream's reader does) and it resets streams as fast as it can write them
 * (the "rapid reset" attack, CVE-2023-44487). It answers SETTINGS and PING, as a live client
 * would, so a server cannot tell it from one by keepalive.
 */
export function connectRawH2(port: number, options: { readonly initialWindowSize?: number } = {}): Promise<RawH2> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received = new Map<number, number>();
    const ended = new Set<number>();
    const resetByServer = new Map<number, number>();
    const settledAtMs = new Map<number, number>();
    let goaway: number | undefined;
    let closed = false;
    let nextId = 1;
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 9) {
        const length = pending.readUIntBE(0, 3);
        if (pending.length < 9 + length) break;
        const [type, flags] = [pending[3]!, pending[4]!];
        const id = pending.readUInt32BE(5) & 0x7fffffff;
        const payload = pending.subarray(9, 9 + length);
        pending = pending.subarray(9 + length);
        if (type === FRAME.DATA) received.set(id, (received.get(id) ?? 0) + length);
        if ((type === FRAME.DATA || type === FRAME.HEADERS) && flags & END_STREAM) ended.add(id);
        if (type === FRAME.RST_STREAM) resetByServer.set(id, payload.readUInt32BE(0));
        if (type === FRAME.RST_STREAM || ((type === FRAME.DATA || type === FRAME.HEADERS) && flags & END_STREAM)) settledAtMs.set(id, Date.now());
        if (type === FRAME.GOAWAY) goaway = payload.readUInt32BE(4);
        if (type === FRAME.SETTINGS && !(flags & ACK)) socket.write(frame(FRAME.SETTINGS, ACK, 0));
        if (type === FRAME.PING && !(flags & ACK)) socket.write(frame(FRAME.PING, ACK, 0, Buffer.from(payload)));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => (closed = true));
    socket.once('connect', () => {
      // The preface and SETTINGS: each stream's window as asked (SETTINGS_INITIAL_WINDOW_SIZE, 0x4), else
      // HTTP/2's default of 65,535 bytes; the connection's window stays at 65,535.
      const settings = Buffer.alloc(options.initialWindowSize === undefined ? 0 : 6);
      if (options.initialWindowSize !== undefined) (settings.writeUInt16BE(0x4, 0), settings.writeUInt32BE(options.initialWindowSize, 2));
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(FRAME.SETTINGS, 0, 0, settings)]));
      resolve({
        open(headers, body, reset = false) {
          const id = nextId;
          nextId += 2;
          const frames = [frame(FRAME.HEADERS, END_HEADERS, id, headerBlock(headers)), frame(FRAME.DATA, END_STREAM, id, body)];
          if (reset) frames.push(frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, H2_CANCEL])));
          if (!closed) socket.write(Buffer.concat(frames));
          return id;
        },
        received,
        ended,
        resetByServer,
        settledAtMs,
        goaway: () => goaway,
        closed: () => closed,
        drained: () => (socket.writableLength === 0 || closed ? Promise.resolve() : new Promise((r) => socket.once('drain', r).once('close', r))),
        close: () => socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}

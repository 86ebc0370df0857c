// A minimal gRPC client for the two calls the hook makes (PrepareStart, CaptureStop), over
// node:http2 with protobufjs encoding from proto/layerkeep.proto. The hook runs on the critical
// path of every `docker start` of an opted-in container; @grpc/grpc-js costs ~150 ms to load,
// this ~40 ms. Wire format: https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md
import { connect as h2connect, constants } from 'node:http2';
import { connect as netConnect } from 'node:net';
import protobuf from 'protobufjs';
import { PROTO_PATH } from './proto-path.js';

export class HookCallError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

let root: protobuf.Root | undefined;
function types(method: 'PrepareStart' | 'CaptureStop') {
  root ??= protobuf.loadSync(PROTO_PATH);
  const service = root.lookupService('layerkeep.v1.LayerKeep');
  const m = service.methods[method];
  m.resolve();
  return { req: m.resolvedRequestType!, res: m.resolvedResponseType! };
}

export function hookCall<Res>(socket: string, method: 'PrepareStart' | 'CaptureStop', request: object, timeoutMs: number): Promise<Res> {
  const { req, res } = types(method);
  const payload = req.encode(req.fromObject(request)).finish();
  const frame = Buffer.alloc(5 + payload.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(payload.length, 1);
  Buffer.from(payload).copy(frame, 5);

  return new Promise<Res>((resolve, reject) => {
    const session = h2connect('http://localhost', { createConnection: () => netConnect(socket) });
    const timer = setTimeout(() => finish(new HookCallError(4, `no answer within ${timeoutMs} ms`)), timeoutMs);
    let done = false;
    const finish = (err: Error | null, value?: Res): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.close();
      session.destroy();
      if (err) reject(err);
      else resolve(value as Res);
    };
    session.on('error', (e: NodeJS.ErrnoException) => finish(new HookCallError(14, `cannot connect to ${socket}: ${e.code ?? e.message}`)));
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: `/layerkeep.v1.LayerKeep/${method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let message = '';
    const takeStatus = (h: Record<string, unknown>): void => {
      if (h['grpc-status'] !== undefined) {
        status = String(h['grpc-status']);
        message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    stream.on('response', (h) => takeStatus(h as Record<string, unknown>)); // trailers-only responses
    stream.on('trailers', (h) => takeStatus(h as Record<string, unknown>));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (e) => finish(new HookCallError(14, e.message)));
    stream.on('end', () => {
      if (status !== '0') {
        finish(new HookCallError(Number(status ?? 13), message || `call ended without a gRPC status`));
        return;
      }
      const body = Buffer.concat(chunks);
      if (body.length < 5) {
        finish(new HookCallError(13, 'empty gRPC response'));
        return;
      }
      const len = body.readUInt32BE(1);
      const decoded = res.toObject(res.decode(body.subarray(5, 5 + len)), { longs: Number, enums: String, defaults: true });
      finish(null, decoded as Res);
    });
    stream.end(frame);
  });
}

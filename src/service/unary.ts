// A unary gRPC call as a promise. Types only from grpc-js, so a caller can import this
// without loading grpc (the CLI loads it only when a daemon socket exists).
import type * as grpc from '@grpc/grpc-js';
import type { LayerKeepClient } from './generated/layerkeep/v1/LayerKeep.js';

/** Calls a unary method as a promise, with a deadline. */
export function unary<Req, Res>(
  client: LayerKeepClient,
  method: (req: Req, opts: grpc.CallOptions, cb: grpc.requestCallback<Res>) => unknown,
  req: Req,
  timeoutMs = 30_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res?: Res) => {
      if (err) reject(err);
      else resolve(res as Res);
    });
  });
}

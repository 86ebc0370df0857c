// The one mapping from layerkeep error kinds to gRPC status codes. Handlers never look at
// message text: what a client sees as the code follows from the error's kind (errors.ts).
import * as grpc from '@grpc/grpc-js';
import { type ErrorKind, kindOf, LayerkeepError } from '../errors.js';

const CODES: Record<ErrorKind, grpc.status> = {
  invalid: grpc.status.INVALID_ARGUMENT,
  'not-found': grpc.status.NOT_FOUND,
  // a lost ref race: the client's view of the key is stale; retrying the same call does not help
  conflict: grpc.status.ABORTED,
  refused: grpc.status.FAILED_PRECONDITION,
  unavailable: grpc.status.UNAVAILABLE,
  permission: grpc.status.PERMISSION_DENIED,
  exhausted: grpc.status.RESOURCE_EXHAUSTED,
  corrupt: grpc.status.DATA_LOSS,
  internal: grpc.status.INTERNAL,
};

export function grpcCodeOf(e: unknown): grpc.status {
  return CODES[kindOf(e)];
}

/** The status object a handler returns for a thrown error: its code and first message line
 *  (plus the hint, so CLI clients can show it). */
export function grpcStatusOf(e: unknown): Partial<grpc.StatusObject> {
  const msg = (e as Error | null)?.message ?? String(e);
  const metadata = new grpc.Metadata();
  metadata.set('layerkeep-kind', kindOf(e));
  if (e instanceof LayerkeepError && e.hint) metadata.set('layerkeep-hint', e.hint);
  return { code: grpcCodeOf(e), details: msg.split('\n')[0], metadata };
}

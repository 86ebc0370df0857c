// Loads proto/layerkeep.proto at run time. The loader options must match the flags given to
// proto-loader-gen-types (see the Makefile's proto target) so the generated types are true.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/layerkeep.js';

import { PROTO_PATH } from '../runtime/proto-path.js';

export { PROTO_PATH };

export const LOADER_OPTIONS: protoLoader.Options = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true };

export type Api = ProtoGrpcType['layerkeep']['v1'];

let cached: Api | undefined;
export function loadApi(): Api {
  if (!cached) {
    const def = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    cached = (grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType).layerkeep.v1;
  }
  return cached;
}

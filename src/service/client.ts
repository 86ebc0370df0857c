// A typed gRPC client for the daemon, over its unix socket or TCP+TLS.
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { loadApi } from './proto.js';
import type { LayerKeepClient } from './generated/layerkeep/v1/LayerKeep.js';

export type { LayerKeepClient };

export interface ClientOptions {
  /** unix socket path, or host:port for TCP */
  address: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export function createClient(opts: ClientOptions): LayerKeepClient {
  const api = loadApi();
  const isTcp = !opts.address.startsWith('/') && !opts.address.startsWith('unix:');
  const target = isTcp ? opts.address : opts.address.startsWith('unix:') ? opts.address : `unix:${opts.address}`;
  const creds = isTcp
    ? grpc.credentials.createSsl(
        opts.tlsCa ? readFileSync(opts.tlsCa) : null,
        opts.tlsKey ? readFileSync(opts.tlsKey) : null,
        opts.tlsCert ? readFileSync(opts.tlsCert) : null,
      )
    : grpc.credentials.createInsecure();
  return new api.LayerKeep(target, creds, { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
}

export { unary } from './unary.js';

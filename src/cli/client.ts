// How CLI commands reach a running daemon: connect over its socket when it answers Health,
// otherwise return null and let the command run standalone.
import { existsSync } from 'node:fs';
import type { LayerKeepClient } from '../service/client.js';
import { unary } from '../service/unary.js';
import type { HealthReply__Output } from '../service/generated/layerkeep/v1/HealthReply.js';

export const DEFAULT_SOCKET = '/run/layerkeep/layerkeep.sock';

export interface DaemonConnection {
  client: LayerKeepClient;
  health: HealthReply__Output;
  close(): void;
}

/** The daemon at `socket` (default: LAYERKEEP_SOCKET or /run/layerkeep/layerkeep.sock), if it is up. */
export async function connectDaemon(socket = process.env.LAYERKEEP_SOCKET ?? DEFAULT_SOCKET, timeoutMs = 1500): Promise<DaemonConnection | null> {
  if (!socket.includes(':') && !existsSync(socket)) return null;
  // loaded only now: grpc and the proto loader cost a standalone command ~60 ms of start-up
  const { createClient } = await import('../service/client.js');
  const client = createClient({ address: socket });
  try {
    const health = await unary<object, HealthReply__Output>(client, client.Health as never, {}, timeoutMs);
    return { client, health, close: () => client.close() };
  } catch {
    client.close();
    return null;
  }
}

export { unary };

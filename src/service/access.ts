// Who may call what on the unix sockets. grpc-js does not expose a caller's credentials
// (SO_PEERCRED) and Node has no API for them, so access is decided by the kernel's file
// permissions instead: the full API is on the main socket (root only, 0600, unless
// socket-group-writes gives the group write access on purpose), the read-only calls are also
// served on a second socket that the socket group may open (0660 root:<group>). A group member
// can read state there but cannot have the root daemon write anything anywhere.
import * as grpc from '@grpc/grpc-js';
import { dirname, join, basename } from 'node:path';
import type { LayerKeepHandlers } from './generated/layerkeep/v1/LayerKeep.js';
import { invalid } from '../errors.js';

/** Calls that change nothing: listing, state, health, events. */
export const READ_ONLY_METHODS = ['Health', 'GetKey', 'ListKeys', 'ListSnapshots', 'PendingUploads', 'Events'] as const;

/** The same handlers, with every call that writes refused (PERMISSION_DENIED). */
export function readOnlyHandlers(h: LayerKeepHandlers): LayerKeepHandlers {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(h)) {
    if ((READ_ONLY_METHODS as readonly string[]).includes(name)) {
      out[name] = fn;
      continue;
    }
    out[name] = (call: { emit(e: string, v: unknown): void }, callback?: (e: Partial<grpc.StatusObject>) => void) => {
      const err = { code: grpc.status.PERMISSION_DENIED, details: `${name} is not allowed on the read-only socket; it needs the main socket (root, or socket-group-writes=true)` };
      if (typeof callback === 'function') callback(err);
      else call.emit('error', err);
    };
  }
  return out as unknown as LayerKeepHandlers;
}

/** The read-only socket's path: the option, else "<name>-ro.sock" beside the main socket when a socket group is set. */
export function readOnlySocketPath(config: Record<string, string>): string {
  if (config['read-only-socket']) return config['read-only-socket'];
  if (!config['socket-group']) return '';
  return join(dirname(config.socket), basename(config.socket).replace(/\.sock$/, '') + '-ro.sock');
}

export function parseBool(v: string, what: string): boolean {
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  if (/^(false|0|no|off|)$/i.test(v)) return false;
  throw invalid(`invalid ${what}=${v}: use true or false`);
}

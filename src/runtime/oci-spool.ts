// The OCI-mode hook's fast path: `layerkeep-hook oci` (POSIX sh) files the runtime's OCI state in
// the daemon's hook spool (see hook-spool.ts) instead of starting node, when the daemon has said it
// takes OCI requests (<spool>/oci.ready). The request
//   <token>.oci.req: {"onRestoreError": "fail|start", "state": <OCI state, as the runtime wrote it>}
// is named by the hook (its pid), never by anything in the state, and is answered with the same
// logic as the node shim's (oci-hook.ts), running PrepareStart/CaptureStop's verified
// implementation (hook-calls.ts) in-process: the stage comes from the state's own status field.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HookDeps } from './container-hooks.js';
import { verifiedHookCall } from './hook-calls.js';
import type { VerifyOptions } from './hook-verify.js';
import { ociHookResult } from './oci-hook.js';

export const OCI_READY = 'oci.ready';

/** Tells the hooks that this daemon's spool takes OCI requests. */
export function advertiseOciSpool(spoolDir: string): void {
  writeFileSync(join(spoolDir, OCI_READY), `${process.pid}\n`);
}

export async function handleOciSpoolRequest(deps: HookDeps, verify: VerifyOptions, text: string): Promise<{ code: number; text: string }> {
  let r: { onRestoreError?: unknown; state?: unknown };
  try {
    r = JSON.parse(text) as typeof r;
  } catch (e) {
    return { code: 1, text: `layerkeep: unreadable OCI hook request: ${(e as Error).message}\n` };
  }
  if (!r || typeof r.state !== 'object' || r.state === null) return { code: 1, text: 'layerkeep: OCI hook request without an OCI state\n' };
  const opts = { runDir: deps.runDir, onRestoreError: r.onRestoreError === 'start' ? 'start' as const : 'fail' as const, restoreTimeout: 0, captureTimeout: 0 };
  return ociHookResult(opts, JSON.stringify(r.state), async <T>(method: 'PrepareStart' | 'CaptureStop', request: Parameters<typeof verifiedHookCall>[3]) =>
    (method === 'PrepareStart' ? await verifiedHookCall(deps, verify, 'PrepareStart', request) : await verifiedHookCall(deps, verify, 'CaptureStop', request)) as T);
}

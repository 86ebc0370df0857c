// The OCI-mode hook's fast path: `layerkeep-hook oci` (POSIX sh) files the runtime's OCI state in
// the daemon's hook spool (see hook-spool.ts) instead of starting node, when the daemon has said it
// takes OCI requests (<spool>/oci.ready). The request
//   {"id": "<container id>", "oci": true, "onRestoreError": "fail|start", "state": <OCI state>}
// goes under the same names as the Docker-mode ones (<id>.start.req at createRuntime, <id>.stop.req
// at poststop), and is answered with the same logic as the node shim's (oci-hook.ts), calling
// PrepareStart/CaptureStop's implementation directly.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureStop, prepareStart, type HookDeps } from './container-hooks.js';
import { ociHookResult } from './oci-hook.js';

export const OCI_READY = 'oci.ready';

export interface OciSpoolRequest {
  id: string;
  oci: true;
  onRestoreError?: string;
  state: { id?: string };
}

export function isOciSpoolRequest(r: unknown): r is OciSpoolRequest {
  return typeof r === 'object' && r !== null && (r as { oci?: unknown }).oci === true;
}

/** Tells the hooks that this daemon's spool takes OCI requests. */
export function advertiseOciSpool(spoolDir: string): void {
  writeFileSync(join(spoolDir, OCI_READY), `${process.pid}\n`);
}

export async function handleOciSpoolRequest(deps: HookDeps, r: OciSpoolRequest): Promise<{ code: number; text: string }> {
  if (!r.state || r.state.id !== r.id) {
    return { code: 1, text: `layerkeep: OCI request for container ${r.id} carries the state of ${JSON.stringify(r.state?.id)}\n` };
  }
  const opts = { runDir: deps.runDir, onRestoreError: r.onRestoreError === 'start' ? 'start' as const : 'fail' as const, restoreTimeout: 0, captureTimeout: 0 };
  return ociHookResult(opts, JSON.stringify(r.state), async <T>(method: 'PrepareStart' | 'CaptureStop', facts: Parameters<typeof prepareStart>[1]) =>
    (method === 'PrepareStart' ? await prepareStart(deps, facts, 'apply') : await captureStop(deps, facts)) as T);
}

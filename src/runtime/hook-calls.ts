// PrepareStart/CaptureStop as the daemon runs them for a hook, over gRPC (hook shim) or the spool
// (layerkeep-hook oci): the request names the runtime and carries the raw OCI state; the daemon
// derives every fact itself from verified sources (hook-verify.ts) and ignores anything else a
// caller claims (labels, upper dir, image). A refused request is logged with its reason.
import { captureStop, prepareStart, type CaptureResult, type HookDeps, type PrepareResult } from './container-hooks.js';
import { HookRefused, verifiedDockerFacts, verifiedOciFacts, type VerifyOptions } from './hook-verify.js';

export interface HookRequest {
  containerId: string;
  /** "docker" (layerkeep-runc's hooks) or "oci" (layerkeep-hook oci). */
  runtime: string;
  /** The OCI state exactly as the runtime gave it to the hook. */
  ociState: string;
}

export async function verifiedHookCall(deps: HookDeps, verify: VerifyOptions, method: 'PrepareStart', r: HookRequest): Promise<PrepareResult>;
export async function verifiedHookCall(deps: HookDeps, verify: VerifyOptions, method: 'CaptureStop', r: HookRequest): Promise<CaptureResult>;
export async function verifiedHookCall(deps: HookDeps, verify: VerifyOptions, method: 'PrepareStart' | 'CaptureStop', r: HookRequest): Promise<PrepareResult | CaptureResult> {
  try {
    if (!r.ociState) throw new HookRefused(`${method} must carry the container's OCI state (ociState): the daemon verifies the container itself and takes no facts from the caller`);
    let facts;
    if (r.runtime === 'oci') {
      const v = verifiedOciFacts(verify, r.ociState);
      const want = method === 'PrepareStart' ? 'createRuntime' : 'poststop';
      if (v.stage !== want) throw new HookRefused(`${method} for container ${v.c.state.id} whose OCI state says status ${JSON.stringify(v.c.state.status)}`);
      facts = v.facts;
    } else if (r.runtime === 'docker' || r.runtime === '') {
      facts = await verifiedDockerFacts(verify, r.ociState, method === 'PrepareStart' ? 'start' : 'stop', r.containerId || undefined);
    } else {
      throw new HookRefused(`unknown runtime ${JSON.stringify(r.runtime)}: use docker or oci`);
    }
    return method === 'PrepareStart' ? await prepareStart(deps, facts, 'apply') : await captureStop(deps, facts);
  } catch (e) {
    if (e instanceof HookRefused) deps.ctx.log.warn('hook request refused', { method, container: r.containerId, runtime: r.runtime, reason: e.message });
    throw e;
  }
}

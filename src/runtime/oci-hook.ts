// The hook shim in OCI-annotation mode (`layerkeep-hook oci`): one hook entry for both stages,
// as installed in Podman's/CRI-O's oci-hooks.d or written into a runc/crun bundle's config.json.
// The stage comes from the state's status; the key from the annotation io.layerkeep.key; the upper
// dir from the overlay mounted at root.path. Same policies as the Docker mode: a failed restore
// refuses the start unless on-restore-error=start (option, or annotation
// io.layerkeep.on-restore-error); every message names the container and the reason.
// The hook only decides whether the container is opted in at all (so that others never depend on
// the daemon); it hands the raw state to the daemon, which verifies it (hook-verify.ts).
import { restoreFailure } from './container-facts.js';
import type { HookRequest } from './hook-calls.js';
import { ociStage, readOciContainer, type OciContainer } from './oci-facts.js';
import { containerKey } from './opt-in.js';

export interface OciHookOptions {
  runDir: string;
  onRestoreError: 'fail' | 'start';
  restoreTimeout: number;
  captureTimeout: number;
}

/** The shim's daemon call (gRPC over the unix socket), with its error messages. */
export type DaemonCall = <T>(method: 'PrepareStart' | 'CaptureStop', request: HookRequest, timeoutS: number) => Promise<T>;

/** Runs the hook and writes its message to stderr; returns the exit code. */
export async function ociHook(opts: OciHookOptions, stateText: string, call: DaemonCall): Promise<number> {
  const r = await ociHookResult(opts, stateText, call);
  process.stderr.write(r.text);
  return r.code;
}

/** The hook's decision as exit code + stderr text (also used by the daemon's spool fast path). */
export async function ociHookResult(opts: OciHookOptions, stateText: string, call: DaemonCall): Promise<{ code: number; text: string }> {
  let c: OciContainer | undefined;
  let stage: 'createRuntime' | 'poststop' | undefined;
  let policy = opts.onRestoreError;
  try {
    c = readOciContainer(stateText);
    stage = ociStage(c.state.status, c.state.id);
    const annotated = c.labels['layerkeep.on-restore-error'];
    if (annotated === 'start' || annotated === 'fail') policy = annotated;
    // Only the annotation opts in (name patterns are a Docker-name feature): no key, no work,
    // and no dependence on the daemon.
    if (!containerKey(c)) return { code: 0, text: '' };
    const request: HookRequest = { containerId: c.state.id, runtime: 'oci', ociState: stateText };
    if (stage === 'createRuntime') {
      const reply = await call<{ action: string; message: string }>('PrepareStart', request, opts.restoreTimeout);
      return { code: 0, text: reply.action === 'restored' ? `layerkeep: ${reply.message}\n` : '' };
    }
    // poststop: the capture is a link copy; packing and upload go on in the daemon afterwards.
    await call('CaptureStop', request, Math.max(1, opts.captureTimeout - 2));
    return { code: 0, text: '' };
  } catch (e) {
    if (stage === 'poststop') {
      return { code: 1, text: `layerkeep: cannot capture the state of container ${c!.name} at stop: ${(e as Error).message}\n` };
    }
    return restoreFailure(opts.runDir, c ? { containerId: c.state.id, name: c.name } : undefined, e as Error, policy);
  }
}

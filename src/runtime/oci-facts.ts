// The facts the hooks need for a container run by any OCI runtime (runc/crun with a hand-made
// bundle, Podman, CRI-O), from the OCI state on stdin, the bundle's config.json and
// /proc/self/mountinfo only: no Docker files, no runtime API. Opt-in is the annotation
// io.layerkeep.key (Podman `--annotation`, Kubernetes pod annotations through CRI-O, or the
// bundle's config.json "annotations"). https://github.com/opencontainers/runtime-spec/blob/main/config.md#annotations
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { GatheredFacts } from './container-facts.js';
import { containerdView } from './containerd.js';
import { mountAt, overlayOption, parseMountinfo } from './mountinfo.js';
import { mountDestinations, parseOciState, readSpec, rootPath, type OciState } from './oci.js';
import { invalid, refused } from '../errors.js';

/** Annotations under this prefix become the daemon's layerkeep.* labels (io.layerkeep.key -> layerkeep.key). */
export const ANNOTATION_PREFIX = 'io.layerkeep.';
export const ANNOTATION_KEY = 'io.layerkeep.key';

/** Hook stage from the state's status: runc, crun and Podman report "creating" at createRuntime and "stopped" at poststop. */
export function ociStage(status: string | undefined, id: string): 'createRuntime' | 'poststop' {
  if (status === 'creating') return 'createRuntime';
  if (status === 'stopped') return 'poststop';
  throw new Error(`OCI state of container ${id} has status ${JSON.stringify(status)}: the layerkeep hook runs only at createRuntime ("creating") and poststop ("stopped")`);
}

/** layerkeep.* labels from io.layerkeep.* annotations; everything else is left out. */
export function labelsFromAnnotations(annotations: Record<string, string>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations)) {
    if (k.startsWith(ANNOTATION_PREFIX) && typeof v === 'string') labels['layerkeep.' + k.slice(ANNOTATION_PREFIX.length)] = v;
  }
  return labels;
}

/**
 * The overlay upper dir under the container's root, refusing what layerkeep cannot snapshot
 * faithfully: fuse-overlayfs (rootless Podman without kernel overlay: no upperdir in the mount
 * table, whiteouts in its own format) and kernel overlay with `userxattr` (rootless: opaque
 * directories are marked with user.overlay.* xattrs, which the snapshot does not translate).
 */
export function ociUpperDir(merged: string, who: string, opts: { unmountedOk?: boolean; mountinfoText?: string } = {}): string {
  const text = opts.mountinfoText ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const m = mountAt(parseMountinfo(text), merged);
  // At poststop a runtime may have unmounted the root already; containers/storage (Podman,
  // CRI-O) keeps the upper dir beside it as <layer>/diff.
  const sibling = join(dirname(merged), 'diff');
  if (!m && opts.unmountedOk && basename(merged) === 'merged' && existsSync(sibling)) return sibling;
  if (!m) throw refused(`the root of ${who} (${merged}) is not a mount point: layerkeep needs the container's root to be an overlay mounted by the runtime`);
  if (m.fsType.startsWith('fuse')) {
    throw new Error(`the root of ${who} is a ${m.fsType} mount (fuse-overlayfs, rootless containers): not supported, its upper dir and whiteouts are not visible to layerkeep; run the container rootful on kernel overlay`);
  }
  if (m.fsType !== 'overlay') throw new Error(`the root of ${who} (${merged}) is a ${m.fsType} mount, not overlay: there is no upper dir to keep`);
  if (/(^|,)userxattr(,|$)/.test(m.superOptions)) {
    throw new Error(`the root of ${who} is a rootless overlay (userxattr: user.overlay.* xattrs): not supported; run the container rootful (trusted.overlay.* xattrs)`);
  }
  const upper = overlayOption(m.superOptions, 'upperdir');
  if (!upper) throw new Error(`the overlay root of ${who} (${merged}) has no upperdir= option (read-only overlay): nothing to keep`);
  return upper;
}

/** A readable name: pod/container under CRI-O, else the id (shortened when it is a 64-hex id). */
function containerName(id: string, a: Record<string, string>): string {
  const k8s = a['io.kubernetes.container.name'];
  const pod = a['io.kubernetes.pod.name'];
  if (k8s && pod) return `${pod}/${k8s}`;
  if (k8s) return k8s;
  return /^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id;
}

/**
 * The image, as the runtime records it: CRI-O's ImageRef/ImageName annotations (set by CRI-O
 * itself), else unknown here (containers/storage's record fills it in, see hook-verify.ts). A
 * user-set annotation never names the image: it would let a container pass the image policy.
 */
function containerImage(a: Record<string, string>): { id: string; name: string } {
  return { id: a['io.kubernetes.cri-o.ImageRef'] ?? '', name: a['io.kubernetes.cri-o.ImageName'] ?? '' };
}

/**
 * Key scoping: under Kubernetes anyone who may create a pod may set its annotations, so a key
 * from an annotation is put under the pod's namespace ("<namespace>.<key>"; namespaces have no
 * dots) and one tenant cannot name another's key. 'none' (daemon option key-scope) keeps keys as
 * written, for clusters where every namespace is trusted alike.
 */
export type KeyScope = 'namespace' | 'none';

export function parseKeyScope(v: string): KeyScope {
  if (v === 'namespace' || v === 'none') return v;
  throw invalid(`invalid key-scope ${JSON.stringify(v)}: use namespace or none`);
}

function scopedKey(key: string, own: Record<string, string>, scope: KeyScope, name: string): string {
  // Run for a Kubernetes pod (CRI-O sets these; Podman's own io.kubernetes.cri-o.* do not count).
  const pod = ['io.kubernetes.pod.namespace', 'io.kubernetes.pod.name', 'io.kubernetes.pod.uid'].some((k) => k in own);
  if (scope === 'none' || !pod) return key;
  const ns = own['io.kubernetes.pod.namespace'];
  if (!ns || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) {
    throw refused(`container ${name} is run by Kubernetes but has no usable pod namespace (io.kubernetes.pod.namespace=${JSON.stringify(ns ?? '')}): its key cannot be scoped (key-scope=namespace)`);
  }
  return `${ns}.${key}`;
}

/** What the state and config.json say, before anything is checked on disk. */
export interface OciContainer {
  state: OciState;
  spec: ReturnType<typeof readSpec>;
  annotations: Record<string, string>;
  /** io.layerkeep.* annotations as layerkeep.* labels (the daemon's opt-in vocabulary). */
  labels: Record<string, string>;
  name: string;
}

export function readOciContainer(stateText: string, opts: { keyScope?: KeyScope } = {}): OciContainer {
  const state = parseOciState(stateText);
  const spec = readSpec(state.bundle);
  const specAnnotations = (spec.annotations ?? {}) as Record<string, string>;
  // The state repeats config.json's annotations; the state wins where they differ.
  const own = { ...specAnnotations, ...(state.annotations ?? {}) };
  // containerd's runc shim (ctr run, CRI): namespace-scoped keys, sandboxes never kept (containerd.ts).
  const ctrd = containerdView(state.id, state.bundle, own);
  if (ctrd) return { state, spec, annotations: own, labels: ctrd.labels, name: ctrd.name };
  const name = containerName(state.id, own);
  // A pod's infra (pause) container is never kept, whatever the pod's annotations say.
  if (own['io.kubernetes.cri-o.ContainerType'] === 'sandbox') return { state, spec, annotations: own, labels: {}, name };
  const annotations = { ...criPodAnnotations(state.bundle, own), ...own };
  const labels = labelsFromAnnotations(annotations);
  // Multi-container pods: io.layerkeep.key.<container name> picks that container's key.
  const k8sName = own['io.kubernetes.container.name'];
  const perContainer = k8sName ? annotations[`${ANNOTATION_KEY}.${k8sName}`] : undefined;
  if (perContainer) labels['layerkeep.key'] = perContainer;
  if (labels['layerkeep.key']) labels['layerkeep.key'] = scopedKey(labels['layerkeep.key'], own, opts.keyScope ?? 'namespace', name);
  return { state, spec, annotations, labels, name };
}

/**
 * CRI-O: Kubernetes pod annotations belong to the pod sandbox; CRI-O's hooks `when` falls back to
 * them, but a container's own spec need not repeat them. The sandbox's spec sits beside the
 * container's bundle (<storage>/overlay-containers/<sandbox id>/userdata/config.json).
 */
function criPodAnnotations(bundle: string, own: Record<string, string>): Record<string, string> {
  const sandboxId = own['io.kubernetes.cri-o.SandboxID'];
  if (!sandboxId || !/^[0-9a-f]{64}$/.test(sandboxId) || basename(bundle) !== 'userdata') return {};
  const path = join(dirname(dirname(bundle)), sandboxId, 'userdata', 'config.json');
  if (!existsSync(path)) return {};
  try {
    const pod = (JSON.parse(readFileSync(path, 'utf8')) as { annotations?: Record<string, string> }).annotations ?? {};
    return Object.fromEntries(Object.entries(pod).filter(([k]) => k.startsWith(ANNOTATION_PREFIX)));
  } catch (e) {
    throw new Error(`cannot read the pod sandbox spec ${path}: ${(e as Error).message}`);
  }
}

/** Facts for the daemon's PrepareStart/CaptureStop; at poststop (unmountedOk) the root may be unmounted already. */
export function ociFacts(c: OciContainer, opts: { unmountedOk?: boolean; mountinfoText?: string } = {}): GatheredFacts {
  const merged = rootPath(c.state.bundle, c.spec);
  const upper = ociUpperDir(merged, `container ${c.name}`, opts);
  return {
    containerId: c.state.id,
    runtime: 'oci',
    name: c.name,
    labels: c.labels,
    image: containerImage(c.annotations),
    bundle: c.state.bundle,
    mergedDir: merged,
    upperDir: upper,
    mountDestinations: [...mountDestinations(c.spec), ...runtimeMadeEntries(upper)],
  };
}

/**
 * Entries a runtime puts into a new container's upper dir that are not the container's data, so
 * that a fresh container still counts as empty (no own state) and gets restored. Podman (libpod)
 * adds /etc/mtab -> /proc/mounts when the image has none.
 */
function runtimeMadeEntries(upper: string): string[] {
  try {
    const target = readlinkSync(join(upper, 'etc', 'mtab'));
    if (target === '/proc/mounts' || target === '../proc/self/mounts' || target === '/proc/self/mounts') return ['/etc/mtab'];
  } catch {
    /* absent, or not a link: nothing to allow */
  }
  return [];
}

// containerd's view of a container, for the OCI hooks: containerd's runc shim (io.containerd.runc.v2)
// runs every container from a bundle <state>/io.containerd.runtime.v2.task/<namespace>/<id>, with
// the OCI annotations of `ctr run --annotation` or, under CRI, the pod annotations the runtime
// handler passes through (pod_annotations) plus CRI's own io.kubernetes.cri.* ones. Keys are
// scoped so that one containerd namespace or Kubernetes namespace never reaches another's state:
//   CRI (namespace k8s.io, with io.kubernetes.cri.sandbox-namespace):
//     io.layerkeep.key.<container>=K or io.layerkeep.key=K   -> k8s.<pod namespace>.K
//     io.layerkeep.enable=true                               -> k8s.<pod namespace>.<pod>.<container>
//   anything else (ctr run, other clients), containerd namespace NS:
//     io.layerkeep.key=K -> ctrd.NS.K;  io.layerkeep.enable=true -> ctrd.NS.<container id>
// Pod namespaces and container names are DNS labels (no dots), so the mapping is one-to-one.
// The pod's sandbox ("pause") container is never kept.
import { basename, dirname } from 'node:path';
import { validateKey } from '../store/layout.js';
import { refused } from '../errors.js';

const TASK_DIR = 'io.containerd.runtime.v2.task';
export const CRI_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
const CRI_POD_NAMESPACE = 'io.kubernetes.cri.sandbox-namespace';
const CRI_POD_NAME = 'io.kubernetes.cri.sandbox-name';
const CRI_CONTAINER_NAME = 'io.kubernetes.cri.container-name';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CTRD_NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** The containerd namespace of a bundle made by containerd's v2 shim, or null for any other bundle. */
export function containerdNamespace(bundle: string, id: string): string | null {
  const nsDir = dirname(bundle);
  if (basename(bundle) !== id || basename(dirname(nsDir)) !== TASK_DIR) return null;
  return basename(nsDir) || null;
}

export function isCriSandbox(annotations: Record<string, string>): boolean {
  return annotations[CRI_CONTAINER_TYPE] === 'sandbox';
}

export interface ContainerdView {
  namespace: string;
  /** pod-namespace/pod/container under CRI, namespace/id otherwise (for messages). */
  name: string;
  /** The daemon's opt-in vocabulary: layerkeep.key set to the scoped key, or absent (not kept). */
  labels: Record<string, string>;
}

/**
 * Opt-in and key of a container run by containerd; null when the bundle is not containerd's.
 * Throws, naming the annotation, when a key or a namespace cannot be scoped.
 */
export function containerdView(id: string, bundle: string, annotations: Record<string, string>): ContainerdView | null {
  const namespace = containerdNamespace(bundle, id);
  if (namespace === null) return null;
  const podNamespace = annotations[CRI_POD_NAMESPACE];
  const cri = namespace === 'k8s.io' && podNamespace !== undefined;
  const container = cri ? annotations[CRI_CONTAINER_NAME] ?? '' : id;
  const pod = cri ? annotations[CRI_POD_NAME] ?? '' : '';
  const name = cri ? `${podNamespace}/${pod}/${container || '(sandbox)'}` : `${namespace}/${id}`;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations)) {
    if (k.startsWith('io.layerkeep.') && typeof v === 'string' && !k.startsWith('io.layerkeep.key') && k !== 'io.layerkeep.enable') {
      labels['layerkeep.' + k.slice('io.layerkeep.'.length)] = v;
    }
  }
  if (cri && isCriSandbox(annotations)) return { namespace, name, labels: {} };

  const explicit = (cri && container ? annotations[`io.layerkeep.key.${container}`] : undefined) || annotations['io.layerkeep.key'];
  const enable = annotations['io.layerkeep.enable'];
  let local: string | null = null;
  if (explicit) local = explicit;
  else if (enable !== undefined && /^(true|1|yes|on)$/i.test(enable)) local = cri ? `${pod}.${container}` : id;
  if (local === null) return { namespace, name, labels };

  let scope: string;
  if (cri) {
    if (!DNS_LABEL.test(podNamespace)) throw refused(`pod namespace ${JSON.stringify(podNamespace)} of container ${name} is not a DNS label; cannot scope its layerkeep key`);
    if (!explicit && (!pod || !DNS_LABEL.test(container))) throw new Error(`container ${name} has no usable pod and container name for io.layerkeep.enable`);
    scope = `k8s.${podNamespace}`;
  } else {
    if (!CTRD_NAMESPACE.test(namespace)) throw refused(`containerd namespace ${JSON.stringify(namespace)} of container ${name} has characters other than [A-Za-z0-9_-]; cannot scope its layerkeep key`);
    scope = `ctrd.${namespace}`;
  }
  const key = `${scope}.${local}`;
  try {
    validateKey(key);
  } catch (e) {
    throw new Error(`layerkeep key of container ${name} (${explicit ? 'annotation io.layerkeep.key' : 'io.layerkeep.enable'}) is unusable: ${(e as Error).message}`);
  }
  labels['layerkeep.key'] = key;
  return { namespace, name, labels };
}

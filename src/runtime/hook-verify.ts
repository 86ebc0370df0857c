// What the daemon believes about a container a hook tells it of. A hook request carries the OCI
// state the runtime wrote on the hook's stdin, and a state passes through hands a container can
// influence (its annotations sit inside it). So the daemon parses the state with JSON.parse,
// never trusts an annotation for id, bundle or status, and checks every relation it can against
// records the container does not control:
//   Docker: the id names a container in dockerd's own record (<docker-root>/containers/<id>),
//           the bundle is the one containerd made for that id (named after it), its root.path is
//           that container's layer in dockerd's layer db (mounts/<id>/mount-id), and the overlay
//           mounted there (/proc/self/mountinfo) has that layer's diff as its upper dir;
//   containers/storage (Podman, CRI-O): the bundle is <graph>/overlay-containers/<id>/userdata,
//           the id is in containers.json, and its layer's merged/diff are root.path and upper dir;
//   other OCI bundles (runc/crun by hand): root.path must be an overlay mount, the upper dir is
//           the kernel's; the bundle itself is the container's identity (written by root).
// A request whose parts disagree is refused with the reason (HookRefused).
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { GatheredFacts } from './container-facts.js';
import { readDockerContainerConfig } from './docker-config.js';
import { mountAt, overlayOption, parseMountinfo } from './mountinfo.js';
import { mountDestinations, parseOciState, readSpec, rootPath, type OciState } from './oci.js';
import { ociFacts, ociStage, readOciContainer, type KeyScope, type OciContainer } from './oci-facts.js';
import { LayerkeepError } from '../errors.js';

export class HookRefused extends LayerkeepError {
  constructor(what: string) {
    super('permission', `refused: ${what}`);
  }
}

export interface VerifyOptions {
  dockerRoot: string;
  keyScope: KeyScope;
  /** For tests; default /proc/self/mountinfo. */
  mountinfoText?: string;
}

const DOCKER_ID = /^[0-9a-f]{64}$/;
/** Container ids layerkeep puts into file names (unrestored marks): a plain name, never a path. */
const SAFE_ID = /^[0-9A-Za-z][0-9A-Za-z_.-]{0,127}$/;

function mountinfo(o: VerifyOptions): ReturnType<typeof parseMountinfo> {
  return parseMountinfo(o.mountinfoText ?? readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** dockerd's layer dir of a container (<docker-root>/<driver>/<mount-id>), or null without a layer db entry. */
function dockerLayerDir(dockerRoot: string, id: string, driver: string): string | null {
  const file = join(dockerRoot, 'image', driver, 'layerdb', 'mounts', id, 'mount-id');
  if (!existsSync(file)) return null;
  const mountId = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(mountId)) throw new HookRefused(`dockerd's layer db names an unusable layer ${JSON.stringify(mountId)} for container ${id}`);
  return join(dockerRoot, driver, mountId);
}

function dockerDriver(dockerRoot: string, id: string): string {
  try {
    const d = (JSON.parse(readFileSync(join(dockerRoot, 'containers', id, 'config.v2.json'), 'utf8')) as { Driver?: unknown }).Driver;
    return typeof d === 'string' && /^[a-z0-9_-]+$/.test(d) ? d : 'overlay2';
  } catch {
    return 'overlay2';
  }
}

/**
 * Facts of a Docker container from its OCI state (as the runtime passed it to the hook), each
 * checked against dockerd's own record. At stop the root may be unmounted already: then the upper
 * dir is the layer's diff from the layer db.
 */
export async function verifiedDockerFacts(o: VerifyOptions, stateText: string, stage: 'start' | 'stop', expectId?: string): Promise<GatheredFacts> {
  const state: OciState = parseOciState(stateText);
  const { id, bundle } = state;
  if (expectId !== undefined && id !== expectId) throw new HookRefused(`the request for container ${expectId} carries the OCI state of ${JSON.stringify(id)}`);
  if (!DOCKER_ID.test(id)) throw new HookRefused(`${JSON.stringify(id)} is not a Docker container id`);
  if (basename(bundle) !== id) throw new HookRefused(`bundle ${bundle} is not the bundle of container ${id} (containerd names a container's bundle after its id)`);
  let cfg;
  try {
    cfg = await readDockerContainerConfig(o.dockerRoot, id);
  } catch (e) {
    throw new HookRefused(`dockerd has no container ${id} (${(e as Error).message})`);
  }
  const spec = readSpec(bundle);
  const merged = rootPath(bundle, spec);
  const layer = dockerLayerDir(o.dockerRoot, id, dockerDriver(o.dockerRoot, id));
  const expectedMerged = layer ? join(layer, 'merged') : join(bundle, 'rootfs');
  if (merged !== expectedMerged) throw new HookRefused(`the root ${merged} in bundle ${bundle} is not container ${id}'s (dockerd mounts it at ${expectedMerged})`);
  const m = mountAt(mountinfo(o), merged);
  let upper: string;
  if (m) {
    if (m.fsType !== 'overlay') throw new HookRefused(`the root of container ${id} (${merged}) is a ${m.fsType} mount, not overlay`);
    const u = overlayOption(m.superOptions, 'upperdir');
    if (!u) throw new HookRefused(`the overlay root of container ${id} (${merged}) has no upperdir= option`);
    if (layer && u !== join(layer, 'diff')) throw new HookRefused(`the overlay at ${merged} has upper dir ${u}, not container ${id}'s layer ${join(layer, 'diff')}`);
    upper = u;
  } else if (stage === 'stop' && layer && existsSync(join(layer, 'diff'))) {
    upper = join(layer, 'diff'); // dockerd unmounted the root already; the layer's diff stays
  } else {
    throw new HookRefused(`the root of container ${id} (${merged}) is not mounted`);
  }
  return {
    containerId: id,
    runtime: 'docker',
    name: cfg.name,
    labels: cfg.labels,
    image: { id: cfg.imageId, name: cfg.imageName },
    bundle,
    mergedDir: merged,
    upperDir: upper,
    mountDestinations: mountDestinations(spec),
  };
}

interface StorageRecord { graph: string; layer: string; image: string }

/** containers/storage's record of the container (Podman, CRI-O), or null for a bundle outside its layout. */
function containersStorageRecord(state: OciState): StorageRecord | null {
  const { id, bundle } = state;
  const containersDir = dirname(dirname(bundle));
  if (basename(bundle) !== 'userdata' || basename(containersDir) !== 'overlay-containers') return null;
  if (basename(dirname(bundle)) !== id) throw new HookRefused(`bundle ${bundle} is not the bundle of container ${id}`);
  const file = join(containersDir, 'containers.json');
  let list: unknown;
  try {
    list = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new HookRefused(`cannot read the container record ${file}: ${(e as Error).message}`);
  }
  const rec = Array.isArray(list) ? (list as { id?: unknown; layer?: unknown; image?: unknown }[]).find((c) => c && c.id === id) : undefined;
  if (!rec || typeof rec.layer !== 'string' || !/^[0-9a-f]{64}$/.test(rec.layer)) throw new HookRefused(`container ${id} is not in ${file}`);
  return { graph: dirname(containersDir), layer: rec.layer, image: typeof rec.image === 'string' ? rec.image : '' };
}

/** OCI mode (oci-hooks.d, runc/crun bundles): the container, its stage from the state's own status, and its verified facts. */
export function verifiedOciFacts(o: VerifyOptions, stateText: string): { c: OciContainer; stage: 'createRuntime' | 'poststop'; facts: GatheredFacts } {
  const c = readOciContainer(stateText, { keyScope: o.keyScope });
  const stage = ociStage(c.state.status, c.state.id);
  if (!SAFE_ID.test(c.state.id)) throw new HookRefused(`${JSON.stringify(c.state.id)} is not a usable container id`);
  const rec = containersStorageRecord(c.state);
  const facts = ociFacts(c, { unmountedOk: stage === 'poststop', mountinfoText: o.mountinfoText });
  if (rec) {
    const layer = join(rec.graph, 'overlay', rec.layer);
    if (facts.mergedDir !== join(layer, 'merged')) throw new HookRefused(`the root ${facts.mergedDir} of container ${c.state.id} is not its layer's ${join(layer, 'merged')}`);
    if (facts.upperDir !== join(layer, 'diff')) throw new HookRefused(`the upper dir ${facts.upperDir} of container ${c.state.id} is not its layer's ${join(layer, 'diff')}`);
    // The image the runtime created the container from (annotations cannot say otherwise).
    if (!facts.image.id && /^[0-9a-f]{64}$/.test(rec.image)) facts.image = { id: `sha256:${rec.image}`, name: facts.image.name };
  }
  return { c, stage, facts };
}

// The facts about a Docker container that the start and stop hooks need, read from files only
// (the bundle's config.json, dockerd's config.v2.json, /proc/self/mountinfo): a hook must never
// call the Docker API for its own container, which deadlocks dockerd.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readDockerContainerConfig } from './docker-config.js';
import { overlayUpperDir } from './mountinfo.js';
import { mountDestinations, parseOciState, readSpec, rootPath } from './oci.js';
import { markUnrestored } from './unrestored.js';

/** The overlay upper dir of the container: from the live mount, else from dockerd's layer store. */
export function findUpperDir(merged: string, dockerRoot: string, containerId: string): string {
  try {
    return overlayUpperDir(merged);
  } catch (mountErr) {
    // At poststop dockerd may have unmounted the rootfs already; overlay2 keeps <layer>/diff.
    const mountIdFile = join(dockerRoot, 'image', 'overlay2', 'layerdb', 'mounts', containerId, 'mount-id');
    if (existsSync(mountIdFile)) {
      const upper = join(dockerRoot, 'overlay2', readFileSync(mountIdFile, 'utf8').trim(), 'diff');
      if (existsSync(upper)) return upper;
    }
    const sibling = join(dirname(merged), 'diff');
    if (existsSync(sibling)) return sibling;
    throw mountErr;
  }
}

export interface GatheredFacts {
  containerId: string;
  runtime: string;
  name: string;
  labels: Record<string, string>;
  image: { id: string; name: string };
  bundle: string;
  mergedDir: string;
  upperDir: string;
  mountDestinations: string[];
}

export async function gather(opts: { dockerRoot: string }, stdin: string): Promise<GatheredFacts> {
  const state = parseOciState(stdin);
  const spec = readSpec(state.bundle);
  const merged = rootPath(state.bundle, spec);
  const cfg = await readDockerContainerConfig(opts.dockerRoot, state.id);
  return {
    containerId: state.id,
    runtime: 'docker',
    name: cfg.name,
    labels: cfg.labels,
    image: { id: cfg.imageId, name: cfg.imageName },
    bundle: state.bundle,
    mergedDir: merged,
    upperDir: findUpperDir(merged, opts.dockerRoot, state.id),
    mountDestinations: mountDestinations(spec),
  };
}


/**
 * What a failed restore at start means: under on-restore-error=fail the start is refused (exit
 * 1, dockerd shows the text); under =start the container runs without its state, and the run is
 * marked so that its stop-time capture never replaces the key's snapshot.
 */
export function restoreFailure(runDir: string, facts: { containerId: string; name: string } | undefined, err: Error, policy: 'fail' | 'start'): { code: number; text: string } {
  const who = facts ? `container ${facts.name || facts.containerId.slice(0, 12)}` : 'container';
  const message = `layerkeep: cannot restore the state of ${who}: ${err.message}`;
  if (policy === 'start') {
    if (facts) markUnrestored(runDir, facts.containerId, message);
    return { code: 0, text: `${message}; starting without it (on-restore-error=start)\n` };
  }
  return { code: 1, text: `${message} (the start is refused; on-restore-error=start would start without state)\n` };
}

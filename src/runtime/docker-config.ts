// Reads what the hook needs about a Docker container from dockerd's own files, never from the
// Docker API (a hook calling the API for its own container deadlocks dockerd).
// <data-root>/containers/<id>/config.v2.json is dockerd's persisted container record.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from '../errors.js';

export const DEFAULT_DOCKER_ROOT = '/var/lib/docker';

export interface DockerContainerConfig {
  id: string;
  name: string;
  labels: Record<string, string>;
  imageId: string;
  imageName: string;
}

export function containerConfigPath(dockerRoot: string, id: string): string {
  if (!/^[0-9a-f]{12,64}$/.test(id)) throw invalid(`invalid Docker container id ${JSON.stringify(id)}`);
  return join(dockerRoot, 'containers', id, 'config.v2.json');
}

export async function readDockerContainerConfig(dockerRoot: string, id: string): Promise<DockerContainerConfig> {
  const path = containerConfigPath(dockerRoot, id);
  let doc: { Name?: string; Image?: string; Config?: { Labels?: Record<string, string> | null; Image?: string } };
  try {
    doc = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read container config ${path}: ${(e as Error).message}`);
  }
  return {
    id,
    name: (doc.Name ?? '').replace(/^\//, ''),
    labels: doc.Config?.Labels ?? {},
    imageId: doc.Image ?? '',
    imageName: doc.Config?.Image ?? '',
  };
}

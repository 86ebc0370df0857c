// Which containers layerkeep keeps, and under which key:
//   label layerkeep.key=<key>        explicit key (survives re-creation under another name)
//   label layerkeep.enable=true      key = container name
//   name patterns (daemon option)    key = container name, for names matching a glob
import { validateKey } from '../store/layout.js';

export const LABEL_KEY = 'layerkeep.key';
export const LABEL_ENABLE = 'layerkeep.enable';

export interface ContainerIdentity {
  name: string;
  labels: Record<string, string>;
}

/** The key a container is kept under, or null when it is not opted in. Throws on an invalid key. */
export function containerKey(c: ContainerIdentity, namePatterns: string[] = []): string | null {
  const explicit = c.labels[LABEL_KEY];
  if (explicit !== undefined && explicit !== '') return checked(explicit, `label ${LABEL_KEY}`);
  const enable = c.labels[LABEL_ENABLE];
  if (enable !== undefined && /^(true|1|yes|on)$/i.test(enable)) return checked(c.name, `container name (label ${LABEL_ENABLE})`);
  if (enable !== undefined && /^(false|0|no|off)$/i.test(enable)) return null;
  if (namePatterns.some((p) => globMatch(p, c.name))) return checked(c.name, 'container name (name pattern)');
  return null;
}

function checked(key: string, source: string): string {
  try {
    return validateKey(key);
  } catch (e) {
    throw new Error(`layerkeep key from ${source} is unusable: ${(e as Error).message}`);
  }
}

/** Shell-style glob: * any run, ? one character; everything else literal. */
export function globMatch(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}

/** Comma- or newline-separated list as used by the name-patterns option and its published file. */
export function parsePatterns(text: string): string[] {
  return text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
}

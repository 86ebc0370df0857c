// OCI runtime-spec pieces the hook needs: the state runc passes on stdin, the bundle's
// config.json (root.path, mounts), and adding layerkeep's hooks to it.
// https://github.com/opencontainers/runtime-spec/blob/main/runtime.md#state
// https://github.com/opencontainers/runtime-spec/blob/main/config.md#posix-platform-hooks
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

export interface OciState {
  id: string;
  bundle: string;
  status?: string;
  pid?: number;
  annotations?: Record<string, string>;
}

export function parseOciState(text: string): OciState {
  let doc: Partial<OciState>;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`OCI state on stdin is not JSON: ${(e as Error).message}`);
  }
  if (typeof doc.id !== 'string' || !doc.id) throw new Error('OCI state on stdin has no "id"');
  if (typeof doc.bundle !== 'string' || !doc.bundle) throw new Error(`OCI state of ${doc.id} has no "bundle"`);
  return doc as OciState;
}

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

interface OciSpec {
  root?: { path?: string };
  mounts?: { destination: string }[];
  hooks?: Record<string, OciHook[] | undefined>;
  [k: string]: unknown;
}

export function readSpec(bundle: string): OciSpec {
  const path = join(bundle, 'config.json');
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as OciSpec;
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** root.path made absolute: relative paths are relative to the bundle. */
export function rootPath(bundle: string, spec: OciSpec): string {
  const p = spec.root?.path;
  if (!p) throw new Error(`${join(bundle, 'config.json')} has no root.path`);
  return isAbsolute(p) ? p : resolve(bundle, p);
}

export function mountDestinations(spec: OciSpec): string[] {
  return (spec.mounts ?? []).map((m) => m.destination).filter((d) => typeof d === 'string');
}

/** The stages layerkeep uses; a hook entry is recognised as ours by its path. */
export function withLayerkeepHooks(spec: OciSpec, hookPath: string, options: string[], timeouts: { createRuntime: number; poststop: number }): OciSpec {
  const hooks = { ...(spec.hooks ?? {}) };
  for (const stage of ['createRuntime', 'poststop'] as const) {
    const others = (hooks[stage] ?? []).filter((h) => h.path !== hookPath);
    others.push({ path: hookPath, args: ['layerkeep-hook', stage, ...options], timeout: timeouts[stage] });
    hooks[stage] = others;
  }
  return { ...spec, hooks };
}

/** Rewrites config.json in place (same directory, atomic rename, same mode). */
export function injectHooksIntoBundleConfig(configPath: string, hookPath: string, options: string[], timeouts: { createRuntime: number; poststop: number }): void {
  const spec = JSON.parse(readFileSync(configPath, 'utf8')) as OciSpec;
  const out = withLayerkeepHooks(spec, hookPath, options, timeouts);
  const tmp = `${configPath}.layerkeep-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(out), { mode: statSync(configPath).mode & 0o7777 });
  renameSync(tmp, configPath);
}

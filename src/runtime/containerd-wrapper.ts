#!/usr/bin/env node
// layerkeep-runc's containerd step, run only for a bundle that has no Docker config.v2.json and
// whose config.json mentions an io.layerkeep.* annotation (the wrapper's cheap pre-filter):
//   containerd-wrapper.js inject <bundle>/config.json <hook path> [--option=value ...]
// It parses the spec, leaves CRI sandbox ("pause") containers and containers that do not opt in
// untouched, and otherwise adds `layerkeep-hook oci` at createRuntime and poststop (the
// OCI-annotation mode: the key comes from the annotations, see containerd.ts and oci-hook.ts).
// Exit 0: done (hooks added or not needed); 1: the spec could not be handled (message on stderr).
import { readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isCriSandbox } from './containerd.js';
import { parseShimOptions } from './hook-shim.js';
import type { OciHook } from './oci.js';

interface Spec { annotations?: Record<string, string>; hooks?: Record<string, OciHook[] | undefined>; [k: string]: unknown }

/** The spec with the oci hook at both stages, or null when the container is not for layerkeep. */
export function withContainerdHooks(spec: Spec, hookPath: string, options: string[], timeouts: { createRuntime: number; poststop: number }): Spec | null {
  const annotations = spec.annotations ?? {};
  if (typeof annotations !== 'object' || isCriSandbox(annotations)) return null;
  if (!Object.keys(annotations).some((k) => k.startsWith('io.layerkeep.'))) return null;
  const hooks = { ...(spec.hooks ?? {}) };
  for (const stage of ['createRuntime', 'poststop'] as const) {
    const others = (hooks[stage] ?? []).filter((h) => h.path !== hookPath);
    others.push({ path: hookPath, args: ['layerkeep-hook', 'oci', ...options], timeout: timeouts[stage] });
    hooks[stage] = others;
  }
  return { ...spec, hooks };
}

export function injectContainerdHooks(configPath: string, hookPath: string, optArgs: string[]): boolean {
  const { opts, passthrough } = parseShimOptions(optArgs);
  const spec = JSON.parse(readFileSync(configPath, 'utf8')) as Spec;
  const out = withContainerdHooks(spec, hookPath, passthrough, { createRuntime: Math.ceil(opts.restoreTimeout), poststop: Math.ceil(opts.captureTimeout) });
  if (!out) return false;
  const tmp = `${configPath}.layerkeep-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(out), { mode: statSync(configPath).mode & 0o7777 });
  renameSync(tmp, configPath);
  return true;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd, configPath, hookPath, ...rest] = process.argv.slice(2);
  try {
    if (cmd !== 'inject' || !configPath || !hookPath) throw new Error('usage: containerd-wrapper.js inject <config.json> <hook path> [--option=value ...]');
    injectContainerdHooks(configPath, hookPath, rest);
    process.exit(0);
  } catch (e) {
    process.stderr.write(`layerkeep-runc: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

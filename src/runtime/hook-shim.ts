#!/usr/bin/env node
// The OCI hook shim layerkeep-runc installs. Runs as:
//   hook-shim.js inject <bundle>/config.json <hook path> [--option=value ...]   (from the wrapper)
//   hook-shim.js createRuntime|poststop [--option=value ...]                      (from runc, OCI state on stdin)
// It reads files only (config.json, config.v2.json, /proc/self/mountinfo), and only to decide
// whether the container is opted in at all; then it hands the raw OCI state to the daemon over
// gRPC, which verifies the container itself (hook-verify.ts). It never calls the Docker API,
// which would deadlock on its own container.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { DEFAULT_DOCKER_ROOT } from './docker-config.js';
import { gather, type GatheredFacts } from './container-facts.js';
import type { HookRequest } from './hook-calls.js';
import { injectHooksIntoBundleConfig } from './oci.js';
import { containerKey, parsePatterns } from './opt-in.js';
import { restoreFailure } from './container-facts.js';
import { invalid } from '../errors.js';
import { parseDuration } from '../units.js';

export interface ShimOptions {
  socket: string;
  dockerRoot: string;
  runDir: string;
  onRestoreError: 'fail' | 'start';
  restoreTimeout: number;
  captureTimeout: number;
}

export function parseShimOptions(args: string[]): { opts: ShimOptions; passthrough: string[] } {
  const opts: ShimOptions = {
    socket: process.env.LAYERKEEP_SOCKET ?? '/run/layerkeep/layerkeep.sock',
    dockerRoot: process.env.LAYERKEEP_DOCKER_ROOT ?? DEFAULT_DOCKER_ROOT,
    runDir: process.env.LAYERKEEP_RUN_DIR ?? '/run/layerkeep',
    onRestoreError: 'fail',
    restoreTimeout: 600,
    captureTimeout: 25,
  };
  const passthrough: string[] = [];
  for (const a of args) {
    const m = /^--([a-z-]+)=(.*)$/s.exec(a);
    if (!m) throw invalid(`unexpected argument ${JSON.stringify(a)}`);
    passthrough.push(a);
    const [, name, v] = m;
    if (name === 'socket') opts.socket = v;
    else if (name === 'docker-root') opts.dockerRoot = v;
    else if (name === 'run-dir') opts.runDir = v;
    else if (name === 'on-restore-error') {
      if (v !== 'fail' && v !== 'start') throw invalid(`invalid --on-restore-error=${v}: use fail or start`);
      opts.onRestoreError = v;
    } else if (name === 'restore-timeout') opts.restoreTimeout = positive(name, v);
    else if (name === 'capture-timeout') opts.captureTimeout = positive(name, v);
    else if (name !== 'node' && name !== 'container-id') throw invalid(`unknown option --${name}`);
  }
  return { opts, passthrough };
}

/** A timeout in seconds (a duration: "25", "25s", "2m"). */
function positive(name: string, v: string): number {
  const ms = parseDuration(v, `--${name}`);
  if (ms <= 0) throw invalid(`invalid --${name}=${v}: expected a duration > 0`);
  return ms / 1000;
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => (s += c));
    process.stdin.on('end', () => resolve(s));
    process.stdin.on('error', reject);
  });
}

function namePatterns(runDir: string): string[] {
  try {
    return parsePatterns(readFileSync(join(runDir, 'name-patterns'), 'utf8'));
  } catch {
    return [];
  }
}

async function callDaemon<T>(opts: ShimOptions, method: 'PrepareStart' | 'CaptureStop', request: HookRequest, timeoutS: number): Promise<T> {
  if (!existsSync(opts.socket)) throw new Error(`the layerkeep daemon is not running (no socket at ${opts.socket}); start it with \`layerkeep serve\``);
  const { hookCall, HookCallError } = await import('./hook-client.js');
  try {
    return await hookCall<T>(opts.socket, method, request, timeoutS * 1000);
  } catch (e) {
    if (!(e instanceof HookCallError)) throw e;
    if (e.code === 14) throw new Error(`the layerkeep daemon at ${opts.socket} is not reachable (${e.message}); start it with \`layerkeep serve\``);
    if (e.code === 4) throw new Error(`the layerkeep daemon did not answer within ${timeoutS}s`);
    throw new Error(e.message);
  }
}

async function createRuntime(opts: ShimOptions, stateText: string): Promise<number> {
  let facts: GatheredFacts | undefined;
  let policy = opts.onRestoreError;
  try {
    facts = await gather(opts, stateText);
    const label = facts.labels['layerkeep.on-restore-error'];
    if (label === 'start' || label === 'fail') policy = label;
    // Labels, or the name patterns the daemon published: a container neither opts in needs
    // nothing (and must not depend on the daemon being up).
    if (!containerKey(facts, namePatterns(opts.runDir))) return 0;
    const request: HookRequest = { containerId: facts.containerId, runtime: 'docker', ociState: stateText };
    const reply = await callDaemon<{ action: string; message: string }>(opts, 'PrepareStart', request, opts.restoreTimeout);
    if (reply.action === 'restored') process.stderr.write(`layerkeep: ${reply.message}\n`);
    return 0;
  } catch (e) {
    const r = restoreFailure(opts.runDir, facts, e as Error, policy);
    process.stderr.write(r.text);
    return r.code;
  }
}

async function poststop(opts: ShimOptions): Promise<number> {
  let facts: GatheredFacts | undefined;
  try {
    const stateText = await readStdin();
    facts = await gather(opts, stateText);
    if (!containerKey(facts, namePatterns(opts.runDir))) return 0;
    await callDaemon(opts, 'CaptureStop', { containerId: facts.containerId, runtime: 'docker', ociState: stateText }, Math.max(1, opts.captureTimeout - 2));
    return 0;
  } catch (e) {
    const who = facts ? `container ${facts.name || facts.containerId.slice(0, 12)}` : 'container';
    process.stderr.write(`layerkeep: cannot capture the state of ${who} at stop: ${(e as Error).message}\n`);
    return 1;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'inject') {
    const [configPath, hookPath, ...optArgs] = rest;
    if (!configPath || !hookPath) throw new Error('usage: hook-shim.js inject <config.json> <hook path> [--option=value ...]');
    const { opts, passthrough } = parseShimOptions(optArgs);
    injectHooksIntoBundleConfig(configPath, hookPath, passthrough, { createRuntime: Math.ceil(opts.restoreTimeout), poststop: Math.ceil(opts.captureTimeout) });
    return 0;
  }
  const { opts } = parseShimOptions(rest);
  if (cmd === 'oci') {
    // OCI-annotation mode (oci-hooks.d for Podman/CRI-O, runc/crun bundles): see oci-hook.ts.
    const { ociHook } = await import('./oci-hook.js');
    return ociHook(opts, await readStdin(), (method, request, timeoutS) => callDaemon(opts, method, request, timeoutS));
  }
  if (cmd === 'createRuntime') return createRuntime(opts, await readStdin());
  if (cmd === 'poststop') return poststop(opts);
  throw invalid(`unknown hook stage ${JSON.stringify(cmd)}: expected createRuntime, poststop or oci`);
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`layerkeep hook: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}

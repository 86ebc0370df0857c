// Docker authorization plugin (managed plugin mode): speaks the authz protocol
// (https://docs.docker.com/engine/extend/plugins_authorization/) on a unix socket and holds
//   POST /containers/{id}/start  -> restore the key into the upper dir (not mounted yet: mode 'upper')
//   DELETE /containers/{id}      -> capture the upper dir before dockerd removes it
// It cannot see --rm auto-removal, prune or restart-policy starts (they never pass through
// authz); the runtime wrapper covers those. Every request is allowed on an internal error, and
// none is held longer than timeoutMs, Docker API calls included (a start whose restore is still
// running is then refused). A start allowed without a restore (Docker's inspect failed or hung,
// or the restore failed with on-restore-error=start) is marked unrestored, so the capture at its
// DELETE never replaces the key's snapshot with the fresh container's empty layer.
import { createServer, type Server } from 'node:http';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from '../ops/types.js';
import { captureStop, prepareStart, type HookDeps } from './container-hooks.js';
import { getContainer } from './containers-table.js';
import { dockerPathMapper } from './docker-watch.js';
import { containerKey } from './opt-in.js';
import { markUnrestored } from './unrestored.js';

interface AuthzRequest {
  RequestMethod?: string;
  RequestUri?: string;
  User?: string;
}
interface AuthzResponse { Allow: boolean; Msg?: string; Err?: string }

export const AUTHZ_SOCKET_MODE = 0o600;

const START_RE = /^(?:\/v[\d.]+)?\/containers\/([^/?]+)\/start(?:\?|$)/;
const DELETE_RE = /^(?:\/v[\d.]+)?\/containers\/([^/?]+)(?:\?|$)/;

export async function serveAuthz(opts: { socket: string; docker: Docker; dockerRoot: string; hookDeps: HookDeps; log: Logger; timeoutMs: number; denyOnRestoreError?: boolean }): Promise<{ close(): Promise<void>; server: Server }> {
  const { docker, hookDeps, log } = opts;
  const localPath = dockerPathMapper(docker, opts.dockerRoot);

  async function facts(idOrName: string, signal: AbortSignal) {
    const info = await docker.getContainer(idOrName).inspect({ abortSignal: signal });
    return {
      containerId: info.Id,
      runtime: 'docker',
      name: info.Name.replace(/^\//, ''),
      labels: info.Config.Labels ?? {},
      image: { id: info.Image, name: info.Config.Image },
      mergedDir: '',
      upperDir: await localPath((info.GraphDriver?.Data as Record<string, string> | undefined)?.UpperDir ?? ''),
      mountDestinations: [] as string[],
      running: info.State.Running,
      startedAt: Date.parse(info.State.StartedAt),
    };
  }

  /** Settles p, or gives 'timeout' once the request's deadline has passed. */
  async function until<T>(deadline: number, p: Promise<T>): Promise<{ ok: true; v: T } | { ok: false; e: Error } | 'timeout'> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => { t = setTimeout(() => r('timeout'), Math.max(0, deadline - Date.now())); });
    try {
      return await Promise.race([p.then((v) => ({ ok: true as const, v }), (e: Error) => ({ ok: false as const, e })), timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  /** Inspects within the deadline; the inspect is aborted when it passes. */
  async function factsUntil(ref: string, deadline: number) {
    const abort = new AbortController();
    const r = await until(deadline, facts(ref, abort.signal));
    if (r === 'timeout') abort.abort();
    return r;
  }

  async function onStart(ref: string): Promise<AuthzResponse> {
    const deadline = Date.now() + opts.timeoutMs;
    const fr = await factsUntil(ref, deadline);
    if (fr === 'timeout' || !fr.ok) {
      // Allowed (fail-open), but this start cannot have been restored: mark it by the name or id
      // the request used, so no capture of this run replaces the key's snapshot.
      const why = fr === 'timeout' ? `Docker did not answer the inspect within ${opts.timeoutMs} ms (authz-timeout)` : `Docker's inspect failed: ${fr.e.message}`;
      markUnrestored(hookDeps.runDir, ref, why);
      log.error('start allowed without a restore; the run is marked unrestored and will not be captured over its key', { container: ref, error: why });
      return { Allow: true, Msg: `layerkeep: ${why}; started without restoring its state` };
    }
    const f = fr.v;
    if (!f.upperDir || !containerKey(f, hookDeps.namePatterns())) return { Allow: true };
    const r = await until(deadline, prepareStart(hookDeps, f, 'upper'));
    if (r === 'timeout') {
      // The restore swaps the upper dir in atomically at its very end, which must not happen
      // under a mounted overlay: refuse this start; the restore finishes in the background and
      // the next `docker start` finds the state in place.
      log.error('restore did not finish within the authz timeout; start refused', { container: f.containerId, timeoutMs: opts.timeoutMs });
      return { Allow: false, Msg: `layerkeep: restoring the state of ${f.name} takes longer than ${opts.timeoutMs} ms (authz-timeout); it continues in the background, start the container again shortly` };
    }
    if (!r.ok) {
      if (opts.denyOnRestoreError ?? true) return { Allow: false, Msg: r.e.message };
      markUnrestored(hookDeps.runDir, f.containerId, r.e.message);
      return { Allow: true, Msg: r.e.message };
    }
    return { Allow: true };
  }

  async function onDelete(ref: string): Promise<AuthzResponse> {
    const deadline = Date.now() + opts.timeoutMs;
    const fr = await factsUntil(ref, deadline);
    if (fr === 'timeout') {
      log.error('Docker did not answer the inspect within the authz timeout; removal allowed without a capture', { container: ref });
      return { Allow: true };
    }
    if (!fr.ok) throw fr.e;
    const f = fr.v;
    if (!f.upperDir || !containerKey(f, hookDeps.namePatterns())) return { Allow: true };
    // Stopped and already captured at its die event: nothing new to take.
    const row = getContainer(hookDeps.ctx.state, f.containerId);
    if (!f.running && row?.state === 'captured' && Date.parse(row.updated_at) >= f.startedAt) return { Allow: true };
    if (f.running) log.warn('capturing a running container at its forced removal (state may be mid-write)', { container: f.containerId });
    const r = await until(deadline, captureStop(hookDeps, f));
    if (r === 'timeout') log.error('capture did not finish within the authz timeout; removal allowed', { container: f.containerId });
    else if (!r.ok) throw r.e;
    return { Allow: true };
  }

  async function authzReq(body: AuthzRequest): Promise<AuthzResponse> {
    const method = body.RequestMethod ?? '';
    const uri = body.RequestUri ?? '';
    let m: RegExpExecArray | null;
    try {
      if (method === 'POST' && (m = START_RE.exec(uri))) return await onStart(decodeURIComponent(m[1]));
      if (method === 'DELETE' && (m = DELETE_RE.exec(uri))) return await onDelete(decodeURIComponent(m[1]));
    } catch (e) {
      log.error('authz handler failed; allowing the request', { method, uri, error: (e as Error).message });
    }
    return { Allow: true };
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: AuthzRequest = {};
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as AuthzRequest) : {};
      } catch {
        // an unreadable request is allowed like any internal error
      }
      const reply = (out: object) => {
        res.setHeader('Content-Type', 'application/vnd.docker.plugins.v1.2+json');
        res.end(JSON.stringify(out));
      };
      if (req.url === '/Plugin.Activate') return reply({ Implements: ['authz'] });
      if (req.url === '/AuthZPlugin.AuthZRes') return reply({ Allow: true });
      if (req.url === '/AuthZPlugin.AuthZReq') {
        authzReq(body).then(reply, () => reply({ Allow: true }));
        return;
      }
      reply({ Err: `unknown plugin endpoint ${req.url}` });
    });
  });
  // The socket's mode must not come from the umask: it is bound inside a private (0700) temp
  // dir, made 0600 (only root, i.e. dockerd, may connect), and only then renamed into place.
  mkdirSync(dirname(opts.socket), { recursive: true });
  const privateDir = mkdtempSync(join(dirname(opts.socket), `.${basename(opts.socket)}.`));
  const bound = join(privateDir, 'sock');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new Error(`cannot serve the authz plugin on ${opts.socket}: ${e.message}`)));
      server.listen(bound, () => resolve());
    });
    chmodSync(bound, AUTHZ_SOCKET_MODE);
    rmSync(opts.socket, { force: true });
    renameSync(bound, opts.socket);
  } finally {
    rmSync(privateDir, { recursive: true, force: true });
  }
  log.info('authorization plugin listening', { socket: opts.socket, timeoutMs: opts.timeoutMs });
  return {
    server,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections?.();
      rmSync(opts.socket, { force: true });
    }),
  };
}

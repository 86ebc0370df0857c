// Docker authorization plugin (managed plugin mode): speaks the authz protocol
// (https://docs.docker.com/engine/extend/plugins_authorization/) on a unix socket and holds
//   POST /containers/{id}/start  -> restore the key into the upper dir (not mounted yet: mode 'upper')
//   DELETE /containers/{id}      -> capture the upper dir before dockerd removes it
// It cannot see --rm auto-removal, prune or restart-policy starts (they never pass through
// authz); the runtime wrapper covers those. Every request is allowed on an internal error, and
// none is held longer than timeoutMs (a start whose restore is still running is then refused).
import { createServer, type Server } from 'node:http';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
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

const START_RE = /^(?:\/v[\d.]+)?\/containers\/([^/?]+)\/start(?:\?|$)/;
const DELETE_RE = /^(?:\/v[\d.]+)?\/containers\/([^/?]+)(?:\?|$)/;

export async function serveAuthz(opts: { socket: string; docker: Docker; dockerRoot: string; hookDeps: HookDeps; log: Logger; timeoutMs: number; denyOnRestoreError?: boolean }): Promise<{ close(): Promise<void>; server: Server }> {
  const { docker, hookDeps, log } = opts;
  const localPath = dockerPathMapper(docker, opts.dockerRoot);

  async function facts(idOrName: string) {
    const info = await docker.getContainer(idOrName).inspect();
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

  async function withTimeout<T>(what: string, p: Promise<T>): Promise<T | 'timeout'> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => { t = setTimeout(() => r('timeout'), opts.timeoutMs); });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(t);
      void what;
    }
  }

  async function onStart(id: string): Promise<AuthzResponse> {
    const f = await facts(id);
    if (!f.upperDir || !containerKey(f, hookDeps.namePatterns())) return { Allow: true };
    const work = prepareStart(hookDeps, f, 'upper');
    const r = await withTimeout('restore', work.then((x) => ({ ok: true as const, x }), (e: Error) => ({ ok: false as const, e })));
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

  async function onDelete(id: string): Promise<AuthzResponse> {
    const f = await facts(id);
    if (!f.upperDir || !containerKey(f, hookDeps.namePatterns())) return { Allow: true };
    // Stopped and already captured at its die event: nothing new to take.
    const row = getContainer(hookDeps.ctx.state, f.containerId);
    if (!f.running && row?.state === 'captured' && Date.parse(row.updated_at) >= f.startedAt) return { Allow: true };
    if (f.running) log.warn('capturing a running container at its forced removal (state may be mid-write)', { container: f.containerId });
    const r = await withTimeout('capture', captureStop(hookDeps, f));
    if (r === 'timeout') log.error('capture did not finish within the authz timeout; removal allowed', { container: f.containerId });
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
  mkdirSync(dirname(opts.socket), { recursive: true });
  rmSync(opts.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`cannot serve the authz plugin on ${opts.socket}: ${e.message}`)));
    server.listen(opts.socket, () => resolve());
  });
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

// The layerkeep daemon: owns the ops context (state DB + store), the upload resumer, the capture
// queue, the Docker integration (events, authz plugin) and the gRPC server. close() is the
// graceful shutdown: stop taking work, let in-flight work finish up to shutdown-timeout, leave the
// rest journaled (captures on disk, uploads in the state DB) for the next start.
import * as grpc from '@grpc/grpc-js';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import type { Server as HttpServer } from 'node:http';
import { closeContext, openContext } from '../ops/context.js';
import { publishManifest } from '../ops/publish.js';
import { snapshot } from '../ops/snapshot.js';
import type { Logger, OpsContext } from '../ops/types.js';
import { resumePendingUploads } from '../upload/resume.js';
import { removeStaleRestoreTemps } from '../ops/restoreTemp.js';
import { createCaptureManager, type CaptureManager } from '../runtime/capture.js';
import type { HookDeps } from '../runtime/container-hooks.js';
import { dockerClient, startDockerWatch, type DockerWatch } from '../runtime/docker-watch.js';
import { parseImagePolicy } from '../runtime/image-policy.js';
import { parsePatterns } from '../runtime/opt-in.js';
import { parseKeyScope } from '../runtime/oci-facts.js';
import type { VerifyOptions } from '../runtime/hook-verify.js';
import { watchHookSpool } from '../runtime/hook-spool.js';
import { thawRecorded } from '../sync/freeze.js';
import { type Config } from './config.js';
import { parseDuration } from '../units.js';
import { parseBool, readOnlyHandlers, readOnlySocketPath } from './access.js';
import { createEventBus, type EventBus } from './events.js';
import { createHandlers, pendingUploads } from './handlers.js';
import { createKeyLock } from './key-lock.js';
import { createMetrics, daemonMetrics, serveMetrics } from './metrics.js';
import { loadApi } from './proto.js';
import { startLiveSync } from './live-sync.js';
import { conflict, invalid } from '../errors.js';

export interface Daemon {
  ctx: OpsContext;
  events: EventBus;
  captures: CaptureManager;
  socket: string;
  /** The socket group's read-only socket, when served. */
  readOnlySocket?: string;
  /** host:port actually bound for --listen / --metrics-listen (port 0 resolved). */
  tcpPort?: number;
  metricsPort?: number;
  close(): Promise<void>;
}

export async function startDaemon(config: Config, log: Logger): Promise<Daemon> {
  // Check what can be checked before anything is opened or bound.
  const imagePolicy = parseImagePolicy(config['image-policy']);
  const failedCapturePolicy = config['failed-capture-policy'];
  if (failedCapturePolicy !== 'start' && failedCapturePolicy !== 'refuse') throw invalid(`invalid --failed-capture-policy=${failedCapturePolicy}: use start or refuse`);
  const verify: VerifyOptions = { dockerRoot: config['docker-root'], keyScope: parseKeyScope(config['key-scope']) };
  // The API acts as root (it writes into any directory it is told): over TCP only clients that
  // present a certificate signed by the configured CA may reach it (mutual TLS).
  if (config.listen && (!config['tls-cert'] || !config['tls-key'])) throw invalid('--listen needs --tls-cert and --tls-key (the TCP API is TLS only)');
  if (config.listen && !config['tls-client-ca']) {
    throw invalid('--listen needs --tls-client-ca: the TCP API acts as root and accepts only clients with a certificate signed by that CA (mutual TLS); without it anyone who reaches the port could write into any directory');
  }
  if (!['auto', 'on', 'off'].includes(config.docker)) throw invalid(`invalid --docker=${config.docker}: use auto, on or off`);
  const shutdownMs = parseDuration(config['shutdown-timeout'], 'shutdown-timeout');
  const groupWrites = parseBool(config['socket-group-writes'], 'socket-group-writes');
  const roSocket = readOnlySocketPath(config);
  const group = config['socket-group'] ? resolveGroup(config['socket-group']) : 0;
  const namePatterns = parsePatterns(config['name-patterns']);
  const runDir = config['run-dir'];
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  // A container a killed daemon left frozen mid-sync is thawed before anything else.
  const thawed = thawRecorded(runDir, (file, e) => log.warn('cannot thaw a recorded frozen cgroup', { file, error: e.message }));
  if (thawed) log.warn('thawed containers an earlier daemon left frozen', { count: thawed });
  publishNamePatterns(runDir, namePatterns);

  // Part retries are counted from the S3 store's retry log line (it has no counter of its own).
  let onPartRetry = (): void => undefined;
  const storeLog: Logger = {
    ...log,
    debug: (msg, fields) => {
      if (msg === 'retrying S3 request' && /^upload of part /.test(String(fields?.what ?? ''))) onPartRetry();
      log.debug(msg, fields);
    },
  };
  const ctx = await openContext({ store: config.store, stateDir: config['state-dir'], log: storeLog, storeMode: 'serve' });
  if (config.host) ctx.host = config.host;
  // Temp trees of restores a crash or kill cut short (restores into upper dirs unpack beside them).
  for (const dir of new Set((ctx.state.prepare('SELECT upper_dir FROM containers WHERE upper_dir IS NOT NULL').all() as { upper_dir: string }[]).map((r) => dirname(r.upper_dir)))) {
    removeStaleRestoreTemps(dir, (p) => log.warn('removed the temp tree of a restore that did not finish', { path: p }));
  }
  const events = createEventBus();
  const metricsRegistry = createMetrics();
  const withKeyLock = createKeyLock();
  // (captures is declared below; the gauge reads it only when /metrics is scraped)
  const metrics = daemonMetrics(metricsRegistry, { pendingUploads: () => pendingUploads(ctx).length, pendingCaptures: () => captures.pending() });

  onPartRetry = () => metrics.partRetries.inc();

  const captures: CaptureManager = createCaptureManager({
    dir: config['capture-dir'],
    log,
    state: ctx.state,
    onAbandoned: (rec) => events.emit({ type: 'capture.abandoned', key: rec.key, containerId: rec.containerId, message: rec.error }),
    snapshot: (rec, tree, doneReading) => withKeyLock(rec.key, async () => {
      const t0 = Date.now();
      events.emit({ type: 'snapshot.started', key: rec.key, containerId: rec.containerId, message: rec.id });
      try {
        let last = 0;
        const progress = {
          update: (phase: string, done: number, total?: number) => {
            // Every file's content has been read: a restart of the container may go ahead.
            if (phase === 'pack' && total && done >= total) doneReading();
            if (Date.now() - last < 200 && done !== total) return;
            last = Date.now();
            events.emit({ type: phase === 'pack' ? 'upload.progress' : `${phase}.progress`, key: rec.key, containerId: rec.containerId, message: phase, done, total: total ?? 0 });
          },
        };
        // A hard-link copy shares inodes with the upper dir but linking changed every ctime:
        // compare without ctime, or every capture would look fully changed.
        const r = await snapshot({ ...ctx, progress }, {
          key: rec.key, dir: tree, image: rec.image.id ? rec.image : undefined, ignoreCtime: rec.linked !== false,
        });
        metrics.snapshots.inc({ result: r.changed ? 'changed' : 'unchanged' });
        if (r.changed) metrics.bytesUp.inc({}, r.blobSize);
        metrics.snapshotSeconds.observe((Date.now() - t0) / 1000);
        events.emit({ type: 'snapshot.finished', key: rec.key, containerId: rec.containerId, manifestDigest: r.manifestDigest, message: r.changed ? 'changed' : 'unchanged' });
      } catch (e) {
        metrics.snapshots.inc({ result: 'failed' });
        events.emit({ type: 'snapshot.failed', key: rec.key, containerId: rec.containerId, message: (e as Error).message });
        throw e;
      }
    }),
  });

  const hookDeps: HookDeps = {
    ctx,
    captures,
    namePatterns: () => namePatterns,
    imagePolicy,
    failedCapturePolicy,
    runDir,
    withKeyLock,
    emit: (e) => events.emit(e),
    observeRestore: (seconds, ok, bytes) => {
      metrics.restores.inc({ result: ok ? 'restored' : 'failed' });
      if (ok) metrics.restoreSeconds.observe(seconds);
      if (bytes) metrics.bytesDown.inc({}, bytes);
    },
  };

  // Finish what an earlier run left: journaled uploads first, then captures not yet snapshotted.
  const resumed = resumePendingUploads(ctx.store, ctx.state, async (_key, json) => { await publishManifest(ctx, json); }, log)
    .then((r) => {
      if (r.completed.length || r.failed.length) log.info('resumed pending uploads', { completed: r.completed.length, failed: r.failed.length, retryLater: r.retryLater.length });
    })
    .catch((e) => log.error('resuming pending uploads failed', { error: (e as Error).message }))
    .then(() => captures.resume())
    .then((n) => { if (n) log.info('resumed captures from the journal', { count: n }); })
    .catch((e) => log.error('resuming captures failed', { error: (e as Error).message }));

  const live = startLiveSync({ config, ctx, events, metrics: metricsRegistry, withKeyLock, log });

  let draining = false;
  const server = new grpc.Server();
  const api = loadApi();
  const handlers = createHandlers({
    ctx, stateDir: config['state-dir'], events, metrics, captures, withKeyLock, hookDeps, verify, startedAt: Date.now(),
    dockerConnected: () => docker?.connected() ?? false, draining: () => draining, sync: (req) => live.sync(req),
  });
  server.addService(api.LayerKeep.service, handlers);
  // The socket group's access (access.ts): read-only calls on their own socket.
  const roServer = roSocket ? new grpc.Server() : undefined;
  roServer?.addService(api.LayerKeep.service, readOnlyHandlers(handlers));

  const socket = config.socket;
  // From here on a failure must release what was opened, or the process would not exit.
  let metricsServer: HttpServer | undefined;
  let docker: DockerWatch | undefined;
  let spool: { close(): void } | undefined;
  let authz: { close(): Promise<void> } | undefined;
  let containerd: { close(): Promise<void> } | undefined;
  let tcpPort: number | undefined;
  let metricsPort: number | undefined;
  const dockerHost = config['docker-host'];
  try {
    await prepareSocketPath(socket);
    await bind(server, `unix:${socket}`, grpc.ServerCredentials.createInsecure());
    // The full API writes into any directory as root: root only, unless the group is given writes on purpose.
    if (groupWrites && config['socket-group']) {
      chownSync(socket, 0, group);
      chmodSync(socket, 0o660);
    } else {
      chmodSync(socket, 0o600);
    }
    if (roServer) {
      await prepareSocketPath(roSocket);
      await bind(roServer, `unix:${roSocket}`, grpc.ServerCredentials.createInsecure());
      chownSync(roSocket, 0, group);
      chmodSync(roSocket, 0o660);
    }
    if (config.listen) {
      const ca = readFileSync(config['tls-client-ca']);
      // checkClientCertificate=true: a client without a certificate signed by `ca` fails the handshake.
      const creds = grpc.ServerCredentials.createSsl(ca, [{ cert_chain: readFileSync(config['tls-cert']), private_key: readFileSync(config['tls-key']) }], true);
      tcpPort = await bind(server, config.listen, creds);
    }
    if (config['metrics-listen']) {
      metricsServer = await serveMetrics(metricsRegistry, config['metrics-listen']);
      const addr = metricsServer.address();
      metricsPort = typeof addr === 'object' && addr ? addr.port : undefined;
    }
    // auto: Docker is installed (its socket or data root exists); the watcher waits for dockerd.
    const dockerPresent = !dockerHost.startsWith('unix://') || existsSync(dockerHost.slice('unix://'.length)) || existsSync(config['docker-root']);
    if (config.docker === 'on' || (config.docker === 'auto' && dockerPresent)) {
      // (live sync subscribes first: it must see the watcher's first docker.connected)
      live.attachDocker(dockerClient(dockerHost), config['docker-root'], () => namePatterns);
      docker = startDockerWatch({ docker: dockerClient(dockerHost), hookDeps, captures, log, wrapperRuntimes: parsePatterns(config['wrapper-runtimes']), dockerRoot: config['docker-root'] });
    }
    // The hooks' fast path (see hook-spool.ts); only useful where the wrapper runs.
    if (!config['authz-socket']) spool = watchHookSpool({ runDir, verify, hookDeps, log });
    if (config['authz-socket']) {
      const { serveAuthz } = await import('../runtime/authz.js');
      authz = await serveAuthz({
        socket: config['authz-socket'], docker: dockerClient(dockerHost), dockerRoot: config['docker-root'], hookDeps, log,
        timeoutMs: parseDuration(config['authz-timeout'], 'authz-timeout'),
      });
    }
    if (config['containerd-socket']) {
      const { startContainerdReconcile } = await import('../runtime/containerd-reconcile.js');
      containerd = startContainerdReconcile({ socket: config['containerd-socket'], namespaces: parsePatterns(config['containerd-namespaces']), hookDeps, log });
    }
    writeFileSync(join(runDir, 'layerkeep.pid'), `${process.pid}\n`);
  } catch (e) {
    void live.close();
    docker?.close();
    spool?.close();
    captures.stop();
    server.forceShutdown();
    roServer?.forceShutdown();
    await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
    await Promise.race([resumed, sleep(1000)]);
    await closeContext(ctx).catch(() => undefined);
    throw e;
  }
  log.info('layerkeep daemon serving', { socket, readOnlySocket: roSocket || undefined, store: ctx.store.description, stateDir: config['state-dir'], docker: !!docker, authz: config['authz-socket'] || undefined, tcpPort, metricsPort });

  let closing: Promise<void> | undefined;
  return {
    ctx, events, captures, socket, readOnlySocket: roSocket || undefined, tcpPort, metricsPort,
    close() {
      closing ??= (async () => {
        draining = true;
        log.info('shutting down: no new work; finishing in-flight work', { timeoutMs: shutdownMs });
        await live.close(shutdownMs);
        docker?.close();
        spool?.close();
        await authz?.close().catch(() => undefined);
        await containerd?.close();
        const finished = await captures.drain(shutdownMs);
        if (!finished) log.warn('shutdown timeout: unfinished captures stay journaled and resume on the next start', { pending: captures.pending() });
        captures.stop();
        await Promise.race([resumed, sleep(1000)]);
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
          server.tryShutdown(() => { clearTimeout(t); resolve(); });
        });
        roServer?.forceShutdown();
        if (roSocket) rmSync(roSocket, { force: true });
        await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
        rmSync(socket, { force: true });
        rmSync(join(runDir, 'layerkeep.pid'), { force: true });
        await closeContext(ctx).catch((e) => log.warn('closing the store failed', { error: (e as Error).message }));
        log.info('layerkeep daemon stopped');
      })();
      return closing;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** The hook reads the patterns from here: it must not need the daemon to know them. */
function publishNamePatterns(runDir: string, patterns: string[]): void {
  const file = join(runDir, 'name-patterns');
  if (patterns.length) writeFileSync(file, patterns.join('\n') + '\n');
  else rmSync(file, { force: true });
}

/** Removes a stale socket file; refuses to steal one another live daemon answers on. */
async function prepareSocketPath(socket: string): Promise<void> {
  mkdirSync(dirname(socket), { recursive: true, mode: 0o755 });
  if (!existsSync(socket)) return;
  const live = await new Promise<boolean>((resolve) => {
    const c = createConnection(socket);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
  if (live) throw conflict(`another process is serving on ${socket}; is a layerkeep daemon already running?`);
  rmSync(socket, { force: true });
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, creds, (err, port) => (err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolve(port)));
  });
}

function resolveGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.split(':')[0] === group);
  if (!line) throw invalid(`socket-group ${group} does not exist in /etc/group`);
  return Number(line.split(':')[2]);
}

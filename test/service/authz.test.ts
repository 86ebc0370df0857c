// The authz plugin when Docker's API misbehaves. The Docker API here is a stand-in on a unix
// socket that only hangs or answers 500: it models a fault of layerkeep's own client path, not
// Docker's behaviour (which the Docker suite covers with a real dockerd). A start allowed without
// a restore is marked, so the capture of that container never replaces the key's snapshot, and
// authz-timeout bounds the whole request, the Docker calls included. The socket is 0600.
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Docker from 'dockerode';
import { closeContext, openContext, silentLogger } from '../../src/ops/context.js';
import { readRef } from '../../src/ops/publish.js';
import { snapshot } from '../../src/ops/snapshot.js';
import { serveAuthz } from '../../src/runtime/authz.js';
import { createCaptureManager } from '../../src/runtime/capture.js';
import { captureStop, type HookDeps } from '../../src/runtime/container-hooks.js';
import { tempDir } from '../support/scratch.js';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function authzCall(socket: string, body: object): Promise<{ Allow: boolean; Msg?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: '/AuthZPlugin.AuthZReq', method: 'POST' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('authz plugin under Docker API faults', { timeout: 60_000 }, () => {
  for (const fault of ['hang', '500'] as const) {
    it(`inspect ${fault === 'hang' ? 'hangs' : 'fails with 500'}: the start is allowed within authz-timeout and the run is marked; its capture does not replace the key`, async () => {
      const base = tempDir('lk-authz-');
      dirs.push(base);
      const apiSock = join(base, 'docker.sock');
      const held: (() => void)[] = [];
      const api = createServer((req, res) => {
        if (fault === 'hang') { held.push(() => res.destroy()); return; }
        res.statusCode = 500;
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ message: `injected failure of ${req.url}` }));
      });
      await new Promise<void>((r) => api.listen(apiSock, r));
      const ctx = await openContext({ store: join(base, 'store'), stateDir: join(base, 'state') });
      const good = join(base, 'good');
      mkdirSync(good);
      writeFileSync(join(good, 'f'), 'good');
      const first = await snapshot(ctx, { key: 'db', dir: good });
      const captures = createCaptureManager({ dir: join(base, 'captures'), log: silentLogger, state: ctx.state,
        snapshot: async (rec, tree) => { await snapshot(ctx, { key: rec.key, dir: tree, ignoreCtime: true }); } });
      const deps: HookDeps = { ctx, captures, namePatterns: () => [], imagePolicy: 'allow', runDir: join(base, 'run'), withKeyLock: (_k, fn) => fn(), emit: () => {}, observeRestore: () => {} };
      const socket = join(base, 'plugins', 'layerkeep.sock');
      const oldUmask = process.umask(0);
      const plugin = await serveAuthz({ socket, docker: new Docker({ socketPath: apiSock }), dockerRoot: '/var/lib/docker', hookDeps: deps, log: silentLogger, timeoutMs: 300, denyOnRestoreError: true })
        .finally(() => process.umask(oldUmask));
      try {
        assert.equal(statSync(socket).mode & 0o777, 0o600, 'the socket\'s mode does not come from the umask');
        // The start names the container by name (hang) or by an id prefix (500), as clients may.
        const ref = fault === 'hang' ? 'db1' : 'abc123';
        const r = await authzCall(socket, { RequestMethod: 'POST', RequestUri: `/v1.43/containers/${ref}/start` });
        assert.equal(r.Allow, true);
        assert.match(r.Msg ?? '', fault === 'hang' ? /authz-timeout/ : /inspect failed/);

        // Later (Docker healthy again) the container is removed: its fresh, empty upper dir must
        // not become the key's snapshot.
        const upper = join(base, 'upper');
        mkdirSync(upper);
        const id = 'abc123' + 'f'.repeat(58);
        const c = await captureStop(deps, { containerId: id, runtime: 'docker', name: 'db1', labels: { 'layerkeep.key': 'db' }, image: { id: '', name: '' }, upperDir: upper });
        assert.equal(c.action, 'ignored');
        await captures.waitForKey('db');
        assert.equal((await readRef(ctx, 'db'))?.ref.current, first.manifestDigest);
      } finally {
        for (const h of held) h();
        await plugin.close();
        captures.stop();
        await new Promise<void>((r) => api.close(() => r()));
        await closeContext(ctx);
      }
    });
  }
});

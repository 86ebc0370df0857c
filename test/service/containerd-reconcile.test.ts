// Which containers containerd reconciliation captures, with a fake containerd client (the
// project's own interface) and the real containers table: only containers the daemon prepared
// (ready), without a running task, whose upper dir still exists; a namespace that cannot be
// listed does not stop the others.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeContext, openContext, silentLogger } from '../../src/ops/context.js';
import type { CaptureManager } from '../../src/runtime/capture.js';
import type { HookDeps } from '../../src/runtime/container-hooks.js';
import { getContainer, upsertContainer, type ContainerState } from '../../src/runtime/containers-table.js';
import { reconcileContainerd, type ContainerdClient } from '../../src/runtime/containerd-reconcile.js';

describe('containerd reconciliation', () => {
  const base = mkdtempSync(join(tmpdir(), 'layerkeep-rec-'));
  after(() => rmSync(base, { recursive: true, force: true }));

  it('captures prepared, stopped containers that still have their upper dir, and nothing else', async () => {
    const ctx = await openContext({ store: `file://${join(base, 'store')}`, stateDir: join(base, 'state') });
    try {
      const upper = (id: string) => {
        const d = join(base, 'snapshots', id, 'fs');
        mkdirSync(d, { recursive: true });
        return d;
      };
      const row = (id: string, state: ContainerState, upperDir = upper(id)) => upsertContainer(ctx.state, { id, runtime: 'oci', name: id, key: `ctrd.default.${id}`, upperDir, state });
      row('stopped', 'ready');
      row('task-stopped', 'ready');
      row('running', 'ready');
      row('done', 'captured');
      row('unrestored', 'unrestored');
      row('gone', 'ready', join(base, 'snapshots', 'gone', 'fs'));
      row('k8s', 'ready');

      const captured: string[] = [];
      const captures = { capture: async (r: { containerId: string; upperDir: string }) => { captured.push(r.containerId); return { id: `cap-${r.containerId}` }; } } as unknown as CaptureManager;
      const deps = {
        ctx, captures, namePatterns: () => [], imagePolicy: 'refuse', runDir: join(base, 'run'),
        withKeyLock: (_k: string, fn: () => Promise<unknown>) => fn(), emit: () => undefined, observeRestore: () => undefined,
      } as unknown as HookDeps;
      const client: ContainerdClient = {
        containers: async (ns) => {
          if (ns === 'broken') throw new Error('permission denied');
          if (ns === 'k8s.io') return [{ id: 'k8s' }];
          return ['stopped', 'task-stopped', 'running', 'done', 'unrestored', 'gone', 'unknown'].map((id) => ({ id }));
        },
        tasks: async (ns) => (ns === 'default' ? [{ container_id: 'running', id: 'running', status: 'RUNNING' }, { container_id: 'task-stopped', id: 'task-stopped', status: 'STOPPED' }] : []),
        close: () => undefined,
      };
      const warnings: string[] = [];
      const log = { ...silentLogger, warn: (m: string) => warnings.push(m) };
      const ids = await reconcileContainerd({ client, namespaces: ['broken', 'default', 'k8s.io'], hookDeps: deps, log });
      assert.deepEqual(ids.sort(), ['k8s', 'stopped', 'task-stopped']);
      assert.deepEqual(captured.sort(), ['k8s', 'stopped', 'task-stopped']);
      assert.equal(getContainer(ctx.state, 'stopped')!.state, 'captured');
      assert.equal(getContainer(ctx.state, 'running')!.state, 'ready');
      assert.ok(warnings.some((w) => /cannot list containers/.test(w)));
      assert.ok(warnings.some((w) => /upper dir of a stopped container is gone/.test(w)));
      // a second pass finds nothing left to do
      captured.length = 0;
      assert.deepEqual(await reconcileContainerd({ client, namespaces: ['default', 'k8s.io'], hookDeps: deps, log }), []);
    } finally {
      await closeContext(ctx);
    }
  });
});

// The OCI hook's cost on runc directly (`make bench-oci`, as root; needs runc and busybox-static):
//   `runc create` (runs the createRuntime hook) and `runc delete` (poststop) of a trivial busybox
//   container on a fresh overlay, with layerkeep's hooks and a key that has no snapshot, against
//   the same bundle without hooks; interleaved so machine load hits both alike.
//   Target: <= 50 ms added to the start.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { busyboxRootfs, layerkeepHooks, mountOverlay, requireTool, startDaemon, tempDir, uniq, umount, writeBundle } from '../test/oci/helpers.js';
import { median, pct } from './data.js';

const N = Number(process.env.LK_BENCH_STARTS ?? 20);
const runc = requireTool('runc', 'runc');

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

/** Runs runc with stdio detached (a created container keeps its stdio), returns ms; throws on failure. */
function timedRunc(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(runc, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(ms(t0)) : reject(new Error(`runc ${args.join(' ')} exited ${code}: ${err.trim()}`))));
  });
}

async function main(): Promise<void> {
  const daemon = await startDaemon(['--log-level=warn']);
  const base = tempDir('layerkeep-oci-bench-');
  const lower = busyboxRootfs(join(base, 'lower'));
  const root = join(base, 'runc-root');
  const times = { plain: { create: [] as number[], del: [] as number[] }, hooked: { create: [] as number[], del: [] as number[] } };
  try {
    for (let i = 0; i < N + 2; i++) {
      for (const kind of i % 2 ? (['plain', 'hooked'] as const) : (['hooked', 'plain'] as const)) {
        const id = uniq(kind);
        const dir = join(base, id);
        const { merged } = mountOverlay(lower, dir);
        await writeBundle(runc, join(dir, 'bundle'), merged, 'true', kind === 'hooked'
          ? { annotations: { 'io.layerkeep.key': id }, hooks: layerkeepHooks(daemon.hookArgs) }
          : {});
        const create = await timedRunc(['--root', root, 'create', '--bundle', join(dir, 'bundle'), id]);
        await timedRunc(['--root', root, 'start', id]);
        // wait for `true` to exit, then delete (poststop)
        for (let t = 0; t < 200; t++) {
          const state = await new Promise<string>((r) => {
            const c = spawn(runc, ['--root', root, 'state', id], { stdio: ['ignore', 'pipe', 'ignore'] });
            let out = '';
            c.stdout.on('data', (b: Buffer) => (out += b.toString()));
            c.on('exit', () => r(out));
          });
          if (state.includes('"stopped"')) break;
          await new Promise((r) => setTimeout(r, 5));
        }
        const del = await timedRunc(['--root', root, 'delete', id]);
        umount(merged);
        if (i >= 2) {
          times[kind].create.push(create);
          times[kind].del.push(del);
        }
      }
    }
  } finally {
    await daemon.stop();
  }
  const row = (label: string, xs: number[]): string => `${label.padEnd(34)} median ${median(xs).toFixed(1).padStart(7)} ms   p90 ${pct(xs, 0.9).toFixed(1).padStart(7)} ms`;
  console.log(`runc ${N} runs each, busybox on a fresh overlay, key without snapshot`);
  console.log(row('runc create, no hooks', times.plain.create));
  console.log(row('runc create, layerkeep hooks', times.hooked.create));
  console.log(row('runc delete, no hooks', times.plain.del));
  console.log(row('runc delete, layerkeep hooks', times.hooked.del));
  const added = median(times.hooked.create) - median(times.plain.create);
  console.log(`added start latency (median): ${added.toFixed(1)} ms (target <= 50 ms) ${added <= 50 ? 'OK' : 'OVER TARGET'}`);
  console.log(`added stop latency (median):  ${(median(times.hooked.del) - median(times.plain.del)).toFixed(1)} ms`);
}

main().catch((e) => {
  console.error(`oci-hook bench failed: ${(e as Error).message}`);
  process.exit(1);
});

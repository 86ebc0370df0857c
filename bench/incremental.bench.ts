// Incremental snapshots: what a diff stores, how fast "nothing changed" is decided, and what a
// chain costs at restore time. Generates its own data:
//   a mixed layer (small files, large compressible files, incompressible files), default
//   ~1 GiB (LAYERKEEP_BENCH_MB to change), changed by ~1 % of its bytes per generation
//   (small files rewritten, edits inside large files, a growing log);
//   a 100k-file tree for the no-change decision.
// Prints ratios against the targets; asserts nothing.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeContext, openContext } from '../src/ops/context.js';
import { restore } from '../src/ops/restore.js';
import { snapshot } from '../src/ops/snapshot.js';
import type { OpsContext, SnapshotResult } from '../src/ops/types.js';
import { dropCaches, generateMixedLayer, type MixedLayer, mulberry32, textish } from './data.js';

const totalMb = Number(process.env.LAYERKEEP_BENCH_MB ?? 1024);
const root = join(process.env.LAYERKEEP_BENCH_DIR ?? tmpdir(), `layerkeep-incr-bench-${process.pid}`);

/** Changes ~1 % of the layer's bytes: 0.3 % small files, 0.4 % edits inside large files, 0.3 % appended. */
function changeOnePercent(l: MixedLayer, gen: number): number {
  const budget = totalMb << 20;
  const rnd = mulberry32(gen);
  let changed = 0;
  for (let i = 0; changed < budget * 0.003; i++) {
    const p = l.small[(gen * 7919 + i * 104_729) % l.small.length]!;
    const size = statSync(p).size;
    writeFileSync(p, textish(size));
    changed += size;
  }
  const editTotal = budget * 0.004;
  for (let done = 0, i = 0; done < editTotal; i++) {
    const p = [...l.large, ...l.random][(gen + i) % (l.large.length + l.random.length)]!;
    const size = statSync(p).size;
    const len = 64 << 10;
    const fd = openSync(p, 'r+');
    for (let k = 0; k < 4 && done < editTotal; k++) {
      writeSync(fd, randomBytes(len), 0, len, Math.floor(rnd() * (size - len)));
      done += len;
    }
    closeSync(fd);
  }
  changed += editTotal;
  const log = l.large[l.large.length - 1]!;
  const app = Math.floor(budget * 0.003);
  appendFileSync(log, textish(app));
  return changed + app;
}

function storeBytes(store: string): number {
  let n = 0;
  for (const sub of ['blobs/sha256', 'manifests']) {
    const d = join(store, sub);
    for (const f of existsSync(d) ? readdirSync(d) : []) n += statSync(join(d, f)).size;
  }
  return n;
}


async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint();
  const r = await f();
  return [r, Number(process.hrtime.bigint() - t0) / 1e9];
}

async function main(): Promise<void> {
  rmSync(root, { recursive: true, force: true });
  const layerDir = join(root, 'layer');
  console.log(`generating a ~${totalMb} MiB layer in ${root} ...`);
  const layer = generateMixedLayer(layerDir, totalMb);
  const store = join(root, 'store');
  const ctx: OpsContext = await openContext({ store, stateDir: join(root, 'state') });
  const lines: string[] = [];
  const row = (name: string, value: string, target: string) => lines.push(`| ${name} | ${value} | ${target} |`);
  try {
    // 1 GiB full, then 1 % changed
    let before = storeBytes(store);
    const [full, fullS] = await timed(() => snapshot(ctx, { key: 'bench', dir: layerDir }));
    const fullStored = storeBytes(store) - before;
    const changedBytes = changeOnePercent(layer, 1);
    before = storeBytes(store);
    const [diff, diffS] = await timed(() => snapshot(ctx, { key: 'bench', dir: layerDir }));
    const diffStored = storeBytes(store) - before;
    if (diff.kind !== 'diff') throw new Error(`second snapshot was ${diff.kind}: ${diff.fullReason}`);
    row(`stored by the 2nd snapshot / the 1st (${(changedBytes / 2 ** 20).toFixed(1)} MiB of ${totalMb} MiB changed)`,
      `${(diffStored / 2 ** 20).toFixed(2)} MiB / ${(fullStored / 2 ** 20).toFixed(1)} MiB = ${((100 * diffStored) / fullStored).toFixed(2)} %`, '<= 3 %');
    row('time: 2nd snapshot / 1st', `${diffS.toFixed(2)} s / ${fullS.toFixed(2)} s = ${(diffS / fullS).toFixed(2)}`, '-');

    // a 9-long chain: 7 more diffs of ~1 % each
    const chain: SnapshotResult[] = [full, diff];
    for (let g = 2; g < 9; g++) {
      changeOnePercent(layer, g);
      const r = await snapshot(ctx, { key: 'bench', dir: layerDir });
      if (r.kind !== 'diff') throw new Error(`generation ${g} was ${r.kind}: ${r.fullReason}`);
      chain.push(r);
    }
    const tip = chain[chain.length - 1]!;
    if (tip.chainLength !== 9) throw new Error(`chain length ${tip.chainLength}`);
    // the same tree as one full snapshot, for comparison
    const flat = await snapshot(ctx, { key: 'bench-full', dir: layerDir, force: true });
    const restoreOnce = async (key: string, n: number) => {
      const host = await openContext({ store, stateDir: join(root, `state-restore-${key}-${n}`) });
      try {
        dropCaches();
        return (await timed(() => restore(host, { key, dir: join(root, `restored-${key}-${n}`) })))[1];
      } finally {
        await closeContext(host);
        rmSync(join(root, `restored-${key}-${n}`), { recursive: true, force: true });
      }
    };
    const chainTimes: number[] = [];
    const fullTimes: number[] = [];
    for (let n = 0; n < 2; n++) { // alternate, keep the better of two (noisy machines)
      fullTimes.push(await restoreOnce('bench-full', n));
      chainTimes.push(await restoreOnce('bench', n));
    }
    const c = Math.min(...chainTimes);
    const f = Math.min(...fullTimes);
    row(`restore: 9-long chain (${(tip.chainLength ?? 0)} layers) / full snapshot of the same tree`, `${c.toFixed(2)} s / ${f.toFixed(2)} s = ${(c / f).toFixed(2)}`, '<= 1.3');
    row('stored: whole 9-long chain / one full snapshot', `${((storeBytesOf(chain)) / 2 ** 20).toFixed(0)} MiB / ${(flat.storedBytes! / 2 ** 20).toFixed(0)} MiB`, '-');

    if (!process.env.LAYERKEEP_BENCH_SKIP_MANY) {
      // unchanged 100k-file layer
      const many = join(root, 'many');
      for (let d = 0; d < 100; d++) {
        mkdirSync(join(many, `d${d}`), { recursive: true });
        for (let i = 0; i < 1000; i++) writeFileSync(join(many, `d${d}/f${i}`), `${d}/${i}`);
      }
      await snapshot(ctx, { key: 'many', dir: many });
      before = storeBytes(store);
      const [same, sameS] = await timed(() => snapshot(ctx, { key: 'many', dir: many }));
      if (same.changed) throw new Error('the unchanged 100k-file tree was seen as changed');
      row('unchanged 100k files: bytes stored, decision time', `${storeBytes(store) - before} B, ${sameS.toFixed(2)} s`, '0 B, <= 0.5 s');
      // the same through a hard-link copy (what the daemon snapshots): ctimes all changed
      execFileSync('cp', ['-a', '--link', many, join(root, 'many-copy')]);
      before = storeBytes(store);
      const [copy, copyS] = await timed(() => snapshot(ctx, { key: 'many', dir: join(root, 'many-copy'), ignoreCtime: true }));
      if (copy.changed) throw new Error('the hard-link copy was seen as changed');
      row('unchanged 100k files as a hard-link copy (ignoreCtime): bytes stored, decision time', `${storeBytes(store) - before} B, ${copyS.toFixed(2)} s`, '0 B');
    }
  } finally {
    await closeContext(ctx);
  }
  console.log('\n| measurement | result | target |');
  console.log('|---|---|---|');
  for (const l of lines) console.log(l);
  if (process.env.LAYERKEEP_BENCH_KEEP) console.log(`\ndata kept in ${root}`);
  else rmSync(root, { recursive: true, force: true });
}

function storeBytesOf(chain: SnapshotResult[]): number {
  return chain.reduce((a, r) => a + (r.storedBytes ?? 0), 0);
}

await main();

// Snapshot/restore speed and memory against the standard tools, measured in the same run
// (these machines are noisy, so only ratios mean something). Generates its own data:
//   a mixed layer (many small files, some large, some incompressible), default ~1 GiB
//   (LAYERKEEP_BENCH_MB to change), and a 100k-file tree for the no-change check.
// Prints a table; asserts nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropCaches, generateMixedLayer, median, RUNS, type Timed, timeAlternating, timeCommand } from './data.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const DECIDE = fileURLToPath(new URL('./decide.js', import.meta.url));
const FLOOR = fileURLToPath(new URL('./formatFloor.js', import.meta.url));
const totalMb = Number(process.env.LAYERKEEP_BENCH_MB ?? 1024);
const root = join(process.env.LAYERKEEP_BENCH_DIR ?? tmpdir(), `layerkeep-bench-${process.pid}`);

async function main(): Promise<void> {
  if (spawnSync('/usr/bin/time', ['true']).status !== 0) throw new Error('needs GNU time (apt-get install time)');
  rmSync(root, { recursive: true, force: true });
  const layer = join(root, 'layer');
  console.log(`generating a ~${totalMb} MiB layer in ${root} ...`);
  generateMixedLayer(layer, totalMb);
  const store = join(root, 'store');
  const state = join(root, 'state');
  const rows: [string, Timed, Timed, string][] = [];

  // Warm the page cache equally for both sides, then alternate runs. Every snapshot run is a
  // full one: it starts from an empty store and state dir.
  execFileSync('sh', ['-c', `tar -cf - -C ${layer} . > /dev/null`]);
  const fresh = () => { rmSync(store, { recursive: true, force: true }); rmSync(state, { recursive: true, force: true }); };
  const [tarZstd, snap] = timeAlternating([
    { cmd: 'sh', args: ['-c', `tar --xattrs -cf - -C ${layer} . | zstd -3 -T0 -q > /dev/null`] },
    { cmd: process.execPath, args: [CLI, 'snapshot', '--quiet', '--store', store, '--state-dir', state, '--key', 'bench', layer], before: fresh },
  ]);
  rows.push(['snapshot vs tar --xattrs \\| zstd -3 -T0', snap!, tarZstd!, 'target <= 1.15']);

  // the layer blob named by the key's current manifest (the store also holds index blobs)
  const current = JSON.parse(readFileSync(join(store, 'refs/bench'), 'utf8')).current.slice(7);
  const manifest = JSON.parse(readFileSync(join(store, 'manifests', `${current}.json`), 'utf8'));
  const blob = join(store, 'blobs/sha256', manifest.blob.digest.slice(7));
  const out1 = join(root, 'untar');
  const out2 = join(root, 'restored');
  const state2 = join(root, 'state2');
  // both restore from a cold page cache into a directory that does not exist yet
  const [untar, rest] = timeAlternating([
    { cmd: 'sh', args: ['-c', `mkdir ${out1} && zstd -dc ${blob} | tar -x -C ${out1}`], before: () => { rmSync(out1, { recursive: true, force: true }); dropCaches(); } },
    { cmd: process.execPath, args: [CLI, 'restore', '--quiet', '--store', store, '--state-dir', state2, '--key', 'bench', out2],
      before: () => { rmSync(out2, { recursive: true, force: true }); rmSync(state2, { recursive: true, force: true }); dropCaches(); } },
  ]);
  rows.push(['restore vs zstd -dc \\| tar -x', rest!, untar!, 'target <= 1.2']);

  // The format's own cost, with no tree read or written and the input in the page cache: the
  // share of the two rows above that no walk, packer or unpacker can remove (zstd through
  // @mongodb-js/zstd, and the diff id and blob digest the format requires).
  const tarFile = join(root, 'layer.tar');
  execFileSync('sh', ['-c', `tar --xattrs -cf ${tarFile} -C ${layer} .`]);
  const manifestFile = join(store, 'manifests', `${current}.json`);
  const cached = () => execFileSync('sh', ['-c', `cat ${tarFile} ${blob} > /dev/null`]);
  const [encode, zstdOnly, decode, unzstd] = timeAlternating([
    { cmd: process.execPath, args: [FLOOR, 'encode', tarFile], before: cached },
    { cmd: 'sh', args: ['-c', `zstd -3 -T0 -q -c ${tarFile} > /dev/null`] },
    { cmd: process.execPath, args: [FLOOR, 'decode', store, manifestFile] },
    { cmd: 'sh', args: ['-c', `zstd -dc ${blob} > /dev/null`] },
  ]);
  rmSync(tarFile, { force: true });
  rows.push(['format alone: cached tar -> frames + 2 sha256, vs tar \\| zstd above', encode!, tarZstd!, 'floor of the snapshot ratio']);
  rows.push(['format alone: cached tar -> frames + 2 sha256, vs zstd -3 -T0 of the same tar', encode!, zstdOnly!, '-']);
  rows.push(['format alone: cached blob -> verified tar, vs zstd -dc of the same blob', decode!, unzstd!, '-']);

  // No-change decision on 100k files
  const many = join(root, 'many');
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(many, `d${d}`), { recursive: true });
    for (let f = 0; f < 1000; f++) writeFileSync(join(many, `d${d}/f${f}`), `${d}/${f}`);
  }
  execFileSync(process.execPath, [CLI, 'snapshot', '--quiet', '--store', store, '--state-dir', state, '--key', 'many', many]);
  const nochange = timeCommand(process.execPath, [CLI, 'snapshot', '--quiet', '--store', store, '--state-dir', state, '--key', 'many', many]);
  // the decision itself (walk + fingerprint + compare) in a fresh process, without Node's start-up
  const decisions = Array.from({ length: RUNS }, () => {
    const r = JSON.parse(execFileSync(process.execPath, [DECIDE, store, state, 'many', many], { encoding: 'utf8' })) as { seconds: number; changed: boolean };
    if (r.changed) throw new Error('the unchanged 100k-file tree was seen as changed');
    return r.seconds;
  });
  const decisionS = median(decisions);

  console.log(`\nmedians of ${RUNS} alternating runs (LAYERKEEP_BENCH_RUNS)`);
  console.log(`(CPU s = user + system of all threads and child processes; ${availableParallelism()} cores)`);
  console.log('\n| measurement | layerkeep s | reference s | ratio | layerkeep CPU s | reference CPU s | target |');
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, a, b, target] of rows) {
    console.log(`| ${name} | ${a.s.toFixed(2)} | ${b.s.toFixed(2)} | ${(a.s / b.s).toFixed(2)} | ${a.cpuS.toFixed(2)} | ${b.cpuS.toFixed(2)} | ${target} |`);
  }
  console.log(`| no-change decision, 100k files (fresh process, start-up excluded) | ${decisionS.toFixed(2)} | - | - | - | - | <= 0.5 s |`);
  console.log(`| no-change check, 100k files (whole CLI run) | ${nochange.s.toFixed(2)} | - | - | ${nochange.cpuS.toFixed(2)} | - | - |`);
  console.log(`\npeak RSS: snapshot ${snap!.rssMiB.toFixed(0)} MiB, restore ${rest!.rssMiB.toFixed(0)} MiB, no-change ${nochange.rssMiB.toFixed(0)} MiB (target <= 256 MiB); zstd -T0 ${tarZstd!.rssMiB.toFixed(0)} MiB`);
  rmSync(root, { recursive: true, force: true });
}

await main();

// Docker integration costs, against the private dockerd of the tests (run it under
// test/infra/with-dockerd.sh, e.g. `make bench-docker`):
//   1. added latency of `docker start` for an opted-in container whose key has no snapshot
//      (runtime wrapper + createRuntime hook + daemon round trip), against an unlabelled one,
//      interleaved so machine load hits both alike (target: <= 50 ms added);
//   2. `docker stop` + `docker rm` of a container with a 1 GiB layer, labelled (poststop capture)
//      against unlabelled, and how long the background snapshot then takes.
import { docker, dockerEnv, fileStore, startLayerkeep, uniq, waitForNewSnapshot } from '../test/docker/helpers.js';
import { median, pct } from './data.js';

const N = Number(process.env.LK_BENCH_STARTS ?? 30);
const GIB = Number(process.env.LK_BENCH_LAYER_MIB ?? 1024);

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

async function timed(args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  await docker(args);
  return ms(t0);
}

async function main(): Promise<void> {
  const env = dockerEnv();
  const store = fileStore();
  const lk = await startLayerkeep(env, { store });
  try {
    // 1. start latency, key without snapshot
    const plain: number[] = [];
    const kept: number[] = [];
    for (let i = 0; i < N; i++) {
      const a = uniq('bench-plain');
      const b = uniq('bench-lk');
      await docker(['create', '--name', a, env.image, 'true']);
      await docker(['create', '--name', b, '--label', `layerkeep.key=${uniq('nosnap')}`, env.image, 'true']);
      if (i % 2 === 0) {
        plain.push(await timed(['start', a]));
        kept.push(await timed(['start', b]));
      } else {
        kept.push(await timed(['start', b]));
        plain.push(await timed(['start', a]));
      }
      await docker(['rm', '-f', a, b]);
    }
    const added = median(kept) - median(plain);
    console.log(`docker start, ${N} runs each (median / p90):`);
    console.log(`  unlabelled                         ${median(plain).toFixed(0)} ms / ${pct(plain, 0.9).toFixed(0)} ms`);
    console.log(`  labelled, key has no snapshot      ${median(kept).toFixed(0)} ms / ${pct(kept, 0.9).toFixed(0)} ms`);
    console.log(`  added by layerkeep (median)        ${added.toFixed(0)} ms (target <= 50 ms)`);

    // 2. stop + rm with a big layer
    const fill = `head -c ${GIB * 1024 * 1024} /dev/urandom > /data/big && sleep 3600`;
    const results: Record<string, { stop: number; rm: number }> = {};
    for (const [label, extra] of [['unlabelled', []], ['labelled', ['--label', `layerkeep.key=${uniq('big')}`]]] as const) {
      const name = uniq('bench-big');
      await docker(['run', '-d', '--name', name, ...extra, env.image, 'sh', '-c', fill]);
      for (;;) {
        const r = await docker(['exec', name, 'sh', '-c', 'stat -c %s /data/big 2>/dev/null || echo 0']);
        if (Number(r.stdout.trim()) >= GIB * 1024 * 1024) break;
        await new Promise((r2) => setTimeout(r2, 500));
      }
      const stop = await timed(['stop', '-t', '1', name]);
      const rm = await timed(['rm', name]);
      results[label] = { stop, rm };
      if (label === 'labelled') {
        const key = extra[1].slice('layerkeep.key='.length);
        const t0 = process.hrtime.bigint();
        await waitForNewSnapshot(store, key, '', 600_000);
        console.log(`background snapshot of the ${GIB} MiB layer landed ${(ms(t0) / 1000).toFixed(1)} s after docker rm returned`);
      }
    }
    console.log(`docker stop + docker rm with a ${GIB} MiB layer:`);
    for (const [label, r] of Object.entries(results)) {
      console.log(`  ${label.padEnd(12)} stop ${r.stop.toFixed(0)} ms + rm ${r.rm.toFixed(0)} ms = ${(r.stop + r.rm).toFixed(0)} ms`);
    }
  } finally {
    await lk.stop();
  }
}

main().catch((e) => {
  console.error(`docker bench failed: ${(e as Error).message}`);
  process.exit(1);
});

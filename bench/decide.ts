// Times one snapshot decision in a fresh process, without Node's start-up: what a re-snapshot of
// an unchanged tree costs beyond starting the CLI. Run by the benchmarks as
//   node dist/bench/decide.js STORE STATE_DIR KEY DIR
// and prints {"seconds": s, "changed": bool} on stdout.
import { closeContext, openContext } from '../src/ops/context.js';
import { snapshot } from '../src/ops/snapshot.js';

const [store, stateDir, key, dir] = process.argv.slice(2);
if (!store || !stateDir || !key || !dir) throw new Error('usage: decide.js STORE STATE_DIR KEY DIR');
const ctx = await openContext({ store, stateDir });
const t0 = process.hrtime.bigint();
const r = await snapshot(ctx, { key, dir });
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
await closeContext(ctx);
console.log(JSON.stringify({ seconds, changed: r.changed }));

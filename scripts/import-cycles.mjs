#!/usr/bin/env node
// Fails when the folders of src/ import each other in a cycle (type-only imports count: they
// couple the folders just as much). Each folder of src/ is one node; a file directly in src/
// (the bottom layer: log.ts, ...) is a node of its own. Run by `make lint`;
// `node scripts/import-cycles.mjs --graph` prints the whole folder graph.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

// Temporary exceptions: { folders: [...], why: '...' } for a cycle that is known and being
// removed. A cycle passes only while all its folders lie inside one entry; an entry whose cycle
// is gone is reported so it can be deleted. Empty: src/ has no cycle between folders.
const TEMPORARILY_ALLOWED = [];

function sourceFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'build') out.push(...sourceFiles(p));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      out.push(p);
    }
  }
  return out;
}

/** The node a file belongs to: its top folder under src/, or the file itself when it sits in src/. */
function nodeOf(file) {
  const rel = relative(root, file).split(sep);
  return rel[0];
}

// `import … from '…'` / `export … from '…'` (over several lines), `import '…'`, `import('…')`.
const STATIC = /^[ \t]*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const BARE = /^[ \t]*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function specifiers(text) {
  const out = [];
  for (const re of [STATIC, BARE, DYNAMIC]) for (const m of text.matchAll(re)) out.push(m[1]);
  return out.filter((s) => s.startsWith('.'));
}

/** edges: from node -> to node -> one example "file -> imported file". */
const edges = new Map();
for (const file of sourceFiles(root)) {
  const from = nodeOf(file);
  for (const spec of specifiers(readFileSync(file, 'utf8'))) {
    const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
    if (!target.startsWith(root + sep)) continue;
    const to = nodeOf(target);
    if (to === from) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from).has(to)) edges.get(from).set(to, `${relative(root, file)} -> ${relative(root, target)}`);
  }
}

// Tarjan's strongly connected components: every component of more than one node is a cycle.
const nodes = [...new Set([...edges.keys(), ...[...edges.values()].flatMap((m) => [...m.keys()])])].sort();
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
let counter = 0;
function visit(v) {
  index.set(v, counter);
  low.set(v, counter++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), index.get(w)));
    }
  }
  if (low.get(v) === index.get(v)) {
    const c = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      c.push(w);
    } while (w !== v);
    if (c.length > 1) components.push(c.sort());
  }
}
for (const v of nodes) if (!index.has(v)) visit(v);

if (process.argv.includes('--graph')) {
  for (const v of nodes) console.log(`${v} -> ${[...(edges.get(v)?.keys() ?? [])].sort().join(', ') || '(nothing)'}`);
}

let failed = false;
for (const c of components) {
  const allowed = TEMPORARILY_ALLOWED.find((a) => c.every((n) => a.folders.includes(n)));
  const inside = c.flatMap((v) => [...(edges.get(v) ?? [])].filter(([to]) => c.includes(to)).map(([to, why]) => `    ${v} -> ${to}  (${why})`));
  console.log(`${allowed ? 'known (temporarily allowed)' : 'NEW'} import cycle between src/ folders: ${c.join(', ')}\n${inside.join('\n')}`);
  if (!allowed) failed = true;
}
for (const a of TEMPORARILY_ALLOWED) {
  if (!components.some((c) => c.every((n) => a.folders.includes(n)))) {
    console.log(`import-cycles: the allowed cycle among ${a.folders.join(', ')} is gone; remove it from TEMPORARILY_ALLOWED`);
  }
}
if (failed) {
  console.error('import-cycles: folders of src/ import each other in a cycle; dependencies must point one way (see README, Architecture)');
  process.exit(1);
}
console.log(`import-cycles: ${nodes.length} nodes, ${components.length === 0 ? 'no cycles' : `${components.length} known cycle(s)`}`);

// CLI conventions, run as users run it (the built CLI as a child process): usage errors exit 2
// with one line, a hint and one JSON error shape; help lists every flag; a closed pipe is quiet;
// export refuses names it would write wrongly; the progress line shows rate and ETA.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMANDS, COMMON } from '../../src/cli/commands.js';
import { progressLine, ttyProgress } from '../../src/cli/output.js';
import { tempDir } from '../support/scratch.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const base = tempDir();
after(() => rmSync(base, { recursive: true, force: true }));
const common = ['--store', `file://${join(base, 'store')}`, '--state-dir', join(base, 'state')];

function lk(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, LAYERKEEP_STANDALONE: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('CLI conventions', { timeout: 120_000 }, () => {
  // a store made on purpose, so what each case checks is not hidden behind "no layerkeep store"
  before(() => assert.equal(lk(['init', ...common]).code, 0));
  it('prints the version without loading the store code', () => {
    for (const a of ['--version', 'version']) assert.equal(lk([a]).stdout, `layerkeep/${VERSION}\n`);
  });

  const usageErrors: Array<[string, string[], RegExp, RegExp | undefined]> = [
    ['unknown option', ['ls', '--kye', 'x'], /^layerkeep: error: unknown option --kye for layerkeep ls$/m, /did you mean --key\?/],
    ['unknown command', ['snapshto'], /^layerkeep: error: unknown command "snapshto"$/m, /did you mean `layerkeep snapshot`\?/],
    ['missing value', ['ls', '--key'], /^layerkeep: error: option --key needs a value$/m, /usage: layerkeep ls/],
    ['value for a boolean', ['ls', '--json=yes'], /^layerkeep: error: option --json takes no value$/m, /usage: layerkeep ls/],
    ['wrong argument count', ['ls', 'extra'], /^layerkeep: error: layerkeep ls takes no arguments, got 1$/m, /usage: layerkeep ls/],
    ['required flag', ['snapshot', ...common, join(base, 'nowhere')], /--key is required/, undefined],
    ['bad duration', ['gc', ...common, '--grace', '3 weeks'], /--grace: expected a duration/, undefined],
    ['bad number', ['gc', ...common, '--keep', 'two'], /--keep must be a positive whole number/, undefined],
    ['bad enum', ['restore', ...common, '--key', 'k', '--mode', 'sideways', join(base, 'r')], /--mode must be upper or apply/, undefined],
    ['unknown help topic', ['help', 'lss'], /unknown command "lss"/, /did you mean `layerkeep ls`/],
  ];
  for (const [what, args, line, hint] of usageErrors) {
    it(`a usage error (${what}) exits 2 with one line, a hint, and a JSON error under --json`, () => {
      const r = lk(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, line);
      if (hint) assert.match(r.stderr, new RegExp(`\\nhint: .*${hint.source}`));
      assert.doesNotMatch(r.stderr, /ERR_PARSE_ARGS|as in '--/);
      assert.equal(r.stdout, '');
      const j = lk([...args, '--json']);
      if (what === 'value for a boolean' || what === 'missing value') return; // --json is part of the bad input there
      assert.equal(j.code, 2);
      const e = JSON.parse(j.stdout) as { error: { kind: string; message: string; hint?: string } };
      assert.equal(e.error.kind, 'invalid');
      assert.match(e.error.message, line.source.startsWith('^layerkeep') ? new RegExp(line.source.replace('^layerkeep: error: ', '^').replace('$', '')) : line);
      if (hint) assert.match(e.error.hint ?? '', hint);
    });
  }

  it('names the state dir it cannot open, as text and as JSON (kind and object)', () => {
    const r = lk(['ls', '--store', `file://${join(base, 'store')}`, '--state-dir', '/dev/null/state', '--json']);
    assert.equal(r.code, 1);
    const e = JSON.parse(r.stdout) as { error: { kind: string; message: string; object: string; hint: string } };
    assert.equal(e.error.object, '/dev/null/state');
    assert.match(e.error.message, /cannot open the state dir \/dev\/null\/state/);
    assert.match(r.stderr, /^layerkeep: error: cannot open the state dir \/dev\/null\/state/);
  });

  it('lists every flag of every command, with its meaning, in `CMD --help` and `help CMD`', () => {
    const top = lk(['--help']);
    assert.equal(top.code, 0);
    for (const [name, spec] of Object.entries(COMMANDS)) {
      assert.match(top.stdout, new RegExp(`^ {2}${name}(\\s|$)`, 'm'), `top-level help lists ${name}`);
      const h = lk([name, '--help']);
      assert.equal(h.code, 0, h.stderr);
      assert.equal(lk(['help', name]).stdout, h.stdout);
      for (const [flag, o] of Object.entries({ ...spec.options, ...COMMON })) {
        assert.match(h.stdout, new RegExp(`--${flag}\\b.*\\n +${o.help.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), `${name} --help explains --${flag}`);
        if (o.default) assert.ok(h.stdout.includes(`(default: ${o.default})`), `${name} --help gives the default of --${flag}`);
      }
    }
    assert.match(lk(['gc', '--help']).stdout, /--grace DURATION\n.*\(default: 24h\)/);
  });

  it('ends quietly with exit 0 when the reader of stdout goes away', async () => {
    // our end of the pipe is closed before the CLI writes anything: every write meets EPIPE
    for (const args of [['help', 'snapshot'], ['ls', ...common], ['snapshot', '--help']]) {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LAYERKEEP_STANDALONE: '1' } });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.equal(code, 0, `${args.join(' ')}: ${stderr}`);
      assert.equal(stderr, '');
    }
  });

  it('export refuses an extension it would not honour, before writing anything', () => {
    const upper = join(base, 'upper');
    mkdirSync(upper, { recursive: true });
    writeFileSync(join(upper, 'f'), 'x');
    assert.equal(lk(['snapshot', ...common, '--key', 'k', upper]).code, 0);
    for (const name of ['out.tgz', 'out.tar.gz', 'out.zip']) {
      const r = lk(['export', ...common, '--key', 'k', '-o', join(base, name), '--json']);
      assert.equal(r.code, 2, r.stderr);
      const e = JSON.parse(r.stdout) as { error: { message: string; hint: string; object: string } };
      assert.match(e.error.message, /cannot write .*(not gzip|unknown extension)/);
      assert.equal(e.error.object, join(base, name));
      assert.ok(!existsSync(join(base, name)));
    }
  });

  it('export -o - --json keeps the tar stream clean (JSON result on stderr)', () => {
    const r = spawnSync(process.execPath, [CLI, 'export', ...common, '--key', 'k', '-o', '-', '--json'], { env: { ...process.env, LAYERKEEP_STANDALONE: '1' } });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(r.stdout.subarray(257, 262).toString(), 'ustar'); // a tar header, not JSON
    assert.match(r.stderr.toString(), /"digest":"sha256:/);
    const list = spawnSync('tar', ['-tf', '-'], { input: r.stdout, encoding: 'utf8' });
    assert.match(list.stdout, /^f$/m);
  });

  it('shows rate and ETA in the progress line (injected clock and terminal)', () => {
    assert.equal(progressLine('restore', 40 * 1024 ** 2, 100 * 1024 ** 2, 4000),
      'restore [##########...............] 40% 40.0 MiB / 100.0 MiB  10.0 MiB/s ETA 6s');
    assert.equal(progressLine('upload', 1024, undefined, 100), 'upload 1.0 KiB'); // no rate before it means anything
    let t = 0;
    const written: string[] = [];
    const term = { isTTY: true, write: (s: string) => { written.push(s); return true; } } as unknown as NodeJS.WriteStream;
    const p = ttyProgress({ json: false, quiet: false }, () => t, term);
    p.update('snapshot', 0, 60 * 1024 ** 2);
    t = 2000;
    p.update('snapshot', 20 * 1024 ** 2, 60 * 1024 ** 2);
    p.done();
    assert.match(written.join(''), /snapshot \[#{8}\.+\] 33% 20\.0 MiB \/ 60\.0 MiB {2}10\.0 MiB\/s ETA 4s/);
    assert.ok(written.at(-1)!.startsWith('\r'));
  });
});

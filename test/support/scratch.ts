// Scratch space for tests: temp dirs and overlay mounts this process made are unmounted and
// removed when it exits (mounts first, so nothing is removed through a live mount), and a
// lower dir that stands in for an image.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const mounted: string[] = [];
const tempDirs: string[] = [];
process.on('exit', () => {
  for (const m of mounted.reverse()) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      /* unmounted already */
    }
  }
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh dir under the system temp dir, removed when the test process exits. */
export function tempDir(prefix = 'layerkeep-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

export interface OverlayDirs { lower: string; upper: string; work: string; merged: string }

/** Mounts an overlay of `lower` at <base>/merged (upper and work beside it); unmounted at exit. */
export function mountOverlay(lower: string, base: string, extraOptions = ''): OverlayDirs {
  const d = { lower, upper: join(base, 'upper'), work: join(base, 'work'), merged: join(base, 'merged') };
  for (const p of [d.upper, d.work, d.merged]) mkdirSync(p, { recursive: true });
  remountOverlay(d, extraOptions);
  return d;
}

/** Mounts the same dirs again (after an unmount). */
export function remountOverlay(d: OverlayDirs, extraOptions = ''): void {
  const opts = `lowerdir=${d.lower},upperdir=${d.upper},workdir=${d.work}${extraOptions ? `,${extraOptions}` : ''}`;
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, d.merged]);
  mounted.push(d.merged);
}

/** Unmounts `path`; quiet when it is not mounted. */
export function umount(path: string): void {
  try {
    execFileSync('umount', [path], { stdio: 'ignore' });
  } catch {
    /* not mounted */
  }
  const i = mounted.lastIndexOf(path);
  if (i >= 0) mounted.splice(i, 1);
}

/**
 * A lower dir standing in for an image at <base>/lower: files, a dir tree, a file to delete, a
 * dir to replace, and an executable to give capabilities to (at /tool and /opt/tool).
 */
export function makeLower(base: string): string {
  const lower = join(base, 'lower');
  for (const d of ['etc/conf.d', 'var/lib/app', 'replace/deep', 'usr/share/doc', 'opt']) mkdirSync(join(lower, d), { recursive: true });
  writeFileSync(join(lower, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(join(lower, 'etc/conf.d/a'), 'a\n');
  writeFileSync(join(lower, 'etc/delete-me'), 'bye\n');
  writeFileSync(join(lower, 'replace/deep/old'), 'old\n');
  writeFileSync(join(lower, 'var/lib/app/data'), 'v1\n');
  writeFileSync(join(lower, 'usr/share/doc/readme'), 'readme\n');
  copyFileSync('/bin/true', join(lower, 'tool'));
  copyFileSync('/bin/true', join(lower, 'opt/tool'));
  return lower;
}

// Apply-mode restore onto a live tree (an overlay's merged dir) in two steps, so that a failure
// while the layer's contents are written (a full disk above all) leaves the tree untouched:
// 1. stage: the layer is unpacked into a fresh directory inside the target (so on the target's
//    own filesystem, and every later move is a rename), its whiteout markers only recorded;
// 2. commit: the markers delete (whiteouts) and hide (opaque dirs), then every staged entry is
//    renamed into place; a directory that already exists in the target is merged into, and gets
//    the staged directory's owner, mode, xattrs and time. The commit writes no file contents, so
//    it needs no room beyond directory entries (and copy-ups of the directories it changes).
// Names are handled as bytes throughout; the walks are iterative (no recursion on depth).
import fs from 'node:fs';
import { lgetxattr, llistxattr, lsetxattr, lutimesNs } from '../native/index.js';
import { layerPathComponents, resolveDirUnder } from './safePath.js';
import type { WhiteoutConverter, WhiteoutMarker } from './whiteout.js';
import { removeTree } from './removeTree.js'; // no recursion: trees may be very deep
import { nameFromBytes, nameToBytes } from './fsName.js';

/** A converter for the stage step: keeps the markers for commit() and writes nothing for them. */
export function recordingWhiteouts(markers: WhiteoutMarker[]): WhiteoutConverter {
  return async (marker, ctx) => {
    if (marker.kind === 'opaque') ctx.dirPath(true); // the opaque directory itself is part of the layer
    markers.push(marker);
  };
}

const SLASH = Buffer.from('/');
const join = (dir: Buffer, name: Buffer): Buffer => Buffer.concat([dir, SLASH, name]);
const lstat = (p: Buffer): fs.Stats | undefined => fs.lstatSync(p, { throwIfNoEntry: false });
const OVERLAY_XATTR = /^(trusted|user)\.overlay\./;

/**
 * Moves the staged tree `stage` into `target`, applying `markers` first. `skip`: the name of the
 * staging dir in the target's root. `stagedFromNs`: when staging began; a staged directory whose
 * mtime is not older is one the unpacker made for a layer without that parent's entry, and does
 * not overwrite the target directory's own metadata.
 */
export function commitStaged(stage: string, target: string, markers: WhiteoutMarker[], skip: string, stagedFromNs: bigint): void {
  const dirOf = (layerDir: string): string | null =>
    layerDir === '.' ? target : resolveDirUnder(target, layerPathComponents(layerDir));

  // Whiteouts: the named entry goes (a symlink itself, never what it points to).
  for (const m of markers) {
    if (m.kind !== 'whiteout') continue;
    const dir = dirOf(m.dir);
    if (dir === null) continue;
    const name = (m.target as string).slice(m.dir === '.' ? 0 : m.dir.length + 1);
    removeTree(`${dir}/${name}`);
  }
  // Opaque directories: every child the layer does not bring goes, inside directories the
  // layer brings too (the OCI rule: an opaque marker hides all lower content).
  for (const m of markers) {
    if (m.kind !== 'opaque') continue;
    const dir = dirOf(m.dir);
    if (dir === null) continue;
    const staged = m.dir === '.' ? stage : `${stage}/${m.dir}`;
    const work: [Buffer, Buffer][] = [[nameToBytes(dir), nameToBytes(staged)]];
    while (work.length > 0) {
      const [t, s] = work.pop()!;
      for (const name of fs.readdirSync(t, { encoding: 'buffer' })) {
        if (m.dir === '.' && t.equals(nameToBytes(target)) && nameFromBytes(name) === skip) continue;
        const tp = join(t, name);
        const sst = lstat(join(s, name));
        if (!sst) removeTree(nameFromBytes(tp));
        else if (sst.isDirectory() && lstat(tp)?.isDirectory()) work.push([tp, join(s, name)]);
      }
    }
  }

  // Moves, parents first; merged directories get their metadata at the end, children first.
  // (each staged directory's metadata is read before its children move out, which changes its mtime)
  const merged: [Buffer, Buffer, fs.BigIntStats][] = [];
  const work: [Buffer, Buffer][] = [[nameToBytes(stage), nameToBytes(target)]];
  while (work.length > 0) {
    const [s, t] = work.pop()!;
    for (const name of fs.readdirSync(s, { encoding: 'buffer' })) {
      const sp = join(s, name);
      const tp = join(t, name);
      const sst = fs.lstatSync(sp);
      const tst = lstat(tp);
      if (sst.isDirectory() && tst?.isDirectory()) {
        merged.push([sp, tp, fs.lstatSync(sp, { bigint: true })]);
        work.push([sp, tp]);
        continue;
      }
      // rename() replaces a non-directory atomically; a directory in the way, or a non-directory
      // where a directory goes, has to be removed first.
      if (tst && (tst.isDirectory() || sst.isDirectory())) removeTree(nameFromBytes(tp));
      fs.renameSync(sp, tp);
    }
  }
  for (let i = merged.length - 1; i >= 0; i--) copyDirMetadata(merged[i]![0], merged[i]![1], merged[i]![2], stagedFromNs);
}

function copyDirMetadata(from: Buffer, to: Buffer, st: fs.BigIntStats, stagedFromNs: bigint): void {
  if (st.mtimeNs >= stagedFromNs) return;
  fs.lchownSync(to, Number(st.uid), Number(st.gid));
  fs.chmodSync(to, Number(st.mode) & 0o7777);
  // the native calls take names as strings, stray bytes escaped (fsName.ts)
  const fromS = nameFromBytes(from);
  const toS = nameFromBytes(to);
  for (const name of llistxattr(fromS)) {
    if (OVERLAY_XATTR.test(name)) continue;
    const v = lgetxattr(fromS, name);
    if (v) lsetxattr(toS, name, v);
  }
  lutimesNs(toS, st.mtimeNs, st.mtimeNs);
}

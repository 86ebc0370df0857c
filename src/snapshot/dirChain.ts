// Paths past PATH_MAX. The kernel refuses a path argument of 4096 bytes or more, yet a tree can
// be much deeper (a container can make 2,500 nested directories in its upper dir), and looking
// up a long path from the root for every entry costs time in the square of the depth. A
// DirChain follows the directory being worked on (walk, pack, unpack: all go parents first):
// each level's path is its parent's plus one name, and once that grows past a few KB, a
// directory fd is opened on the parent and the path restarts as "/proc/self/fd/<fd>/<name>"
// (the magic link resolves to that very directory); so it does every 32 levels, since the
// kernel looks up every component of a path on every call. Every path it hands out is short,
// and the anchors held are those of the current chain only (one per 32 levels or few KB).
import fs from 'node:fs';
import { osPath } from './fsName.js';

/** Longest path handed to the kernel; PATH_MAX is 4096, and a name can add 256 bytes. */
export const SHORT_PATH_BYTES = 3072;
/** Most components below the last anchor before a new one is opened. */
const ANCHOR_LEVELS = 32;

const byteLength = (s: string): number => Buffer.byteLength(s); // escaped bytes count 3: an overestimate

export class DirChain {
  private readonly names: string[] = [];
  /** paths[i]: the kernel-usable path of the directory at depth i (0: the root). */
  private readonly paths: string[];
  private readonly lens: number[];
  /** levels[i]: components of paths[i] below its anchor (or the root). */
  private readonly levels: number[] = [0];
  /** fds[i]: an fd on the directory at depth i, for its children's paths; -1 if none. */
  private readonly fds: number[] = [-1];

  constructor(root: string) {
    this.paths = [root];
    this.lens = [byteLength(root)];
  }

  /** Depth of the current directory. */
  get depth(): number {
    return this.names.length;
  }

  /** The current directory's name ('' at the root). */
  get name(): string {
    return this.names[this.names.length - 1] ?? '';
  }

  /** Whether paths handed out go through an fd this chain holds (valid only while it does). */
  get anchored(): boolean {
    return this.fds.some((fd) => fd !== -1);
  }

  /** The current directory's path (kernel-usable). */
  get path(): string {
    return this.paths[this.names.length]!;
  }

  /**
   * Moves to the directory `comps` below the root and returns its path. `check` is called with
   * the path of each level newly entered, shallowest first, before anything below it is used
   * (to verify or create it); levels shared with the previous directory are not checked again.
   */
  enter(comps: readonly string[], check?: (path: string, depth: number) => void): string {
    let common = 0;
    const n = this.names.length;
    while (common < n && common < comps.length && this.names[common] === comps[common]) common++;
    this.truncate(common);
    for (let i = common; i < comps.length; i++) {
      this.push(comps[i]!);
      check?.(this.path, i + 1);
    }
    return this.path;
  }

  /** Descends into `name` of the current directory (which must exist) and returns its path. */
  push(name: string): string {
    const p = this.child(name);
    this.names.push(name);
    this.paths.push(p);
    this.lens.push(byteLength(p));
    this.levels.push(this.fds[this.names.length - 1] === -1 ? this.levels[this.names.length - 1]! + 1 : 1);
    this.fds.push(-1);
    return p;
  }

  /** Back to the parent. */
  pop(): void {
    this.truncate(this.names.length - 1);
  }

  /** The path of `name` in the current directory. */
  child(name: string): string {
    const d = this.names.length;
    const parent = this.paths[d]!;
    if (this.fds[d] === -1 && this.levels[d]! < ANCHOR_LEVELS && this.lens[d]! + 1 + byteLength(name) < SHORT_PATH_BYTES) {
      return parent.endsWith('/') ? parent + name : `${parent}/${name}`;
    }
    if (this.fds[d] === -1) {
      const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = fs.constants;
      this.fds[d] = fs.openSync(osPath(parent), O_RDONLY | O_DIRECTORY | (d > 0 ? O_NOFOLLOW : 0));
    }
    return `/proc/self/fd/${this.fds[d]}/${name}`;
  }

  /** Forgets every level below the root (and closes their fds). */
  reset(): void {
    this.truncate(0);
  }

  close(): void {
    this.truncate(0);
    if (this.fds[0] !== -1) fs.closeSync(this.fds[0]!);
    this.fds[0] = -1;
  }

  private truncate(depth: number): void {
    for (let i = this.names.length; i > depth; i--) {
      const fd = this.fds.pop()!;
      if (fd !== -1) fs.closeSync(fd);
      this.names.pop();
      this.paths.pop();
      this.lens.pop();
      this.levels.pop();
    }
  }
}

/**
 * Kernel-usable paths for absolute paths visited roughly in tree order (a pack reading the
 * walk's files): a short path is used as is, a long one through a DirChain from '/'.
 */
export class LongPaths {
  private chain: DirChain | null = null;

  /** A path for Node's fs (string, or bytes when it holds an escaped byte). */
  of(abs: string): string | Buffer {
    return osPath(this.str(abs));
  }

  /** A path for the native addon (which maps escaped bytes itself). Valid until the next call. */
  str(abs: string): string {
    if (abs.length * 3 < SHORT_PATH_BYTES || byteLength(abs) < SHORT_PATH_BYTES) return abs;
    const comps = abs.split('/').filter((c) => c !== '');
    const name = comps.pop()!;
    this.chain ??= new DirChain('/');
    this.chain.enter(comps);
    return this.chain.child(name);
  }

  close(): void {
    this.chain?.close();
    this.chain = null;
  }
}

export const isShortPath = (abs: string): boolean => abs.length * 3 < SHORT_PATH_BYTES || byteLength(abs) < SHORT_PATH_BYTES;

// Crash-safe file writes, the one implementation of the protocol: write a temporary file beside
// the target, fsync it, rename it over the target, fsync the folder. A reader sees the old
// contents or the new ones, never a torn file. Whole contents go through writeFileDurable;
// files built with positioned writes (token files, whose header is written last) through
// writeFileAtomic. Checkpoint folders follow the same steps for a folder
// (training/checkpoint.ts writeCheckpointFolder); lock files are created by linking (base/lockfile.ts).

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Writes all of `bytes` at `position` (default: the current offset). */
export function writeAll(fd: number, bytes: Uint8Array, position?: number): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, position === undefined ? null : position + off);
}

/**
 * Creates `path` atomically: `fill` writes a fresh temporary file (any writes, positioned or
 * not), which is then fsynced and renamed over `path`. On an error the temporary file is removed
 * and `path` is untouched. Returns what `fill` returns.
 */
export function writeFileAtomic<T>(path: string, fill: (fd: number) => T): T {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx');
  let result: T;
  try {
    result = fill(fd);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  fsyncPath(dirname(path));
  return result;
}

/** Text is written as UTF-8; byte chunks are written one after another. */
export function writeFileDurable(path: string, content: string | Uint8Array | Iterable<Uint8Array>): void {
  const chunks = typeof content === 'string' ? [Buffer.from(content, 'utf8')] : content instanceof Uint8Array ? [content] : content;
  writeFileAtomic(path, (fd) => { for (const bytes of chunks) writeAll(fd, bytes); });
}

/** fsync of a file or folder (a folder makes renames in it durable); best effort where unsupported. */
export function fsyncPath(path: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    fsyncSync(fd);
  } catch {
    /* directories cannot be opened for fsync on some platforms */
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * Replaces the folder `dir` as a whole: `fill` writes the new contents into a hidden folder
 * beside it, every file is fsynced, then the folder is renamed into place (an old one is
 * moved aside first and removed after). Files that belong together (a config and its weights)
 * are therefore never seen mixed: a crash or a failing `fill` leaves the old folder, or none.
 */
export function replaceFolderDurable(dir: string, fill: (tmp: string) => void): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const tmp = join(parent, `.${basename(dir)}.${tag}.tmp`);
  mkdirSync(tmp);
  try {
    fill(tmp);
    for (const name of readdirSync(tmp)) fsyncPath(join(tmp, name));
    fsyncPath(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  moveFolderIntoPlace(tmp, dir, join(parent, `.${basename(dir)}.${tag}.old`));
}

/**
 * Renames the finished folder `tmp` to `dest`, moving an existing `dest` aside to `aside`
 * first and removing it after, then fsyncs the parent (same folder for all three paths).
 */
export function moveFolderIntoPlace(tmp: string, dest: string, aside: string): void {
  if (existsSync(dest)) {
    renameSync(dest, aside);
    renameSync(tmp, dest);
    rmSync(aside, { recursive: true, force: true });
  } else {
    renameSync(tmp, dest);
  }
  fsyncPath(dirname(dest));
}

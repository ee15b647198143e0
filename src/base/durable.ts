// Crash-safe file writes, the one implementation of the protocol: write a temporary file beside
// the target, fsync it, rename it over the target, fsync the folder. A reader sees the old
// contents or the new ones, never a torn file. Whole contents go through writeFileDurable;
// files built with positioned writes (token files, whose header is written last) through
// writeFileAtomic. Checkpoint folders follow the same steps for a folder
// (training/checkpoint.ts writeCheckpointFolder); lock files are created by linking (base/lockfile.ts).

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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

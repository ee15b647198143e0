// Crash-safe small-file writes shared by checkpoints and the metrics log: write a temporary
// file beside the target, fsync it, rename it over the target, fsync the folder. A reader sees
// the old contents or the new ones, never a torn file.

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

export function writeFileDurable(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx');
  try {
    const bytes = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncPath(dirname(path));
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

// Crash-safe file writes, the one implementation shared by safetensors, checkpoints, metrics,
// reports and run folders: write a temporary file beside the target, fsync it, rename it over
// the target, fsync the folder. A reader sees the old contents or the new ones, never a torn file.

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Text is written as UTF-8; byte chunks are written one after another. */
export function writeFileDurable(path: string, content: string | Uint8Array | Iterable<Uint8Array>): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const chunks = typeof content === 'string' ? [Buffer.from(content, 'utf8')] : content instanceof Uint8Array ? [content] : content;
  const fd = openSync(tmp, 'wx');
  try {
    for (const bytes of chunks) {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
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

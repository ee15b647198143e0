// Lock files: one holder at a time for something on disk (a run folder). The lock is a small
// JSON file naming its holder (pid, host, command, since), created atomically: it is written
// under a temporary name and hard-linked to the lock's name, which fails when a lock exists, so
// a reader never sees a half-written lock. A lock whose holder is a process on this host that no
// longer runs (killed, crashed) is stale and is taken over; taking over happens under a second,
// short-lived "breaker" lock, so two processes that both find the same stale lock cannot both
// remove it (the second would otherwise remove the first's fresh lock). A holder on another host
// (a shared runs folder) cannot be asked whether it runs, so holders refresh their lock's
// modification time every HEARTBEAT_MS, and a foreign lock not refreshed for FOREIGN_STALE_MS
// counts as stale (the machine died, or the process was killed).

import { closeSync, existsSync, linkSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

export interface LockHolder {
  pid: number;
  host: string;
  /** The holder's command line, for the error a second process gets. */
  command: string;
  /** ISO time the lock was taken. */
  since: string;
}

/** Another process holds the lock; the message names it. */
export class LockedError extends Error {
  constructor(readonly path: string, readonly holder: LockHolder | null, what: string) {
    super(holder
      ? `${what} is in use by pid ${holder.pid} on ${holder.host} (${holder.command}), since ${holder.since}; ` +
        `wait for it to finish or stop it${holder.host === hostname() ? '' : ` (a lock from another machine that is no longer refreshed is taken over after ${FOREIGN_STALE_MS / 60_000} minutes)`}`
      : `${what} is locked (${path} exists but names no holder); if no process uses it, remove ${path}`);
    this.name = 'LockedError';
  }
}

/** Whether a process with this pid runs on this host (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

export function readLockHolder(path: string): LockHolder | null {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch { return null; }
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return null;
    return { pid: v.pid, host: v.host, command: String(v.command ?? '?'), since: String(v.since ?? '?') };
  } catch {
    return null;
  }
}

export const HEARTBEAT_MS = 15_000;
export const FOREIGN_STALE_MS = 120_000;

function ageMs(path: string): number {
  try { return Date.now() - statSync(path).mtimeMs; } catch { return 0; }
}

/** A holder that can be shown to be gone: on this host, its pid no longer runs; on another, its heartbeat stopped. */
function isStale(holder: LockHolder | null, path: string): boolean {
  if (holder === null) return false;
  return holder.host === hostname() ? !processAlive(holder.pid) : ageMs(path) > FOREIGN_STALE_MS;
}

/** Creates `path` with `content` only if it does not exist; false when it does. */
function createExclusive(path: string, content: string): boolean {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx');
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

/** A breaker left by a process killed while breaking a lock (a window of microseconds) expires. */
const BREAKER_EXPIRY_MS = 10_000;

/** Removes the lock at `path` if it is (still) stale, under the breaker; true when it is gone. */
function breakStale(path: string): boolean {
  const breaker = `${path}.break`;
  const me: LockHolder = { pid: process.pid, host: hostname(), command: 'breaking a stale lock', since: new Date().toISOString() };
  if (!createExclusive(breaker, JSON.stringify(me))) {
    if (!existsSync(breaker)) return false;
    if (!isStale(readLockHolder(breaker), breaker) && ageMs(breaker) < BREAKER_EXPIRY_MS) return false;
    try { unlinkSync(breaker); } catch { /* another process removed it */ }
    if (!createExclusive(breaker, JSON.stringify(me))) return false;
  }
  try {
    // Read again under the breaker: the lock may have been replaced by a live holder meanwhile.
    if (!existsSync(path)) return true;
    if (!isStale(readLockHolder(path), path)) return false;
    unlinkSync(path);
    return true;
  } finally {
    unlinkSync(breaker);
  }
}

export interface Lock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock if this process still holds it. Idempotent. */
  release(): void;
}

const held = new Set<Lock>();
let exitHook = false;

/**
 * Takes the lock at `path` for this process, or throws LockedError naming the holder. `what`
 * names the locked thing in the error ("run folder runs/x"). A stale lock is taken over.
 * The lock is released by release() or, failing that, when the process exits normally.
 */
export function acquireLock(path: string, what: string, command = process.argv.slice(1).join(' ')): Lock {
  const holder: LockHolder = { pid: process.pid, host: hostname(), command, since: new Date().toISOString() };
  const content = JSON.stringify(holder) + '\n';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createExclusive(path, content)) {
      const mine = (): boolean => {
        const now = readLockHolder(path);
        return now !== null && now.pid === holder.pid && now.host === holder.host && now.since === holder.since;
      };
      const heartbeat = setInterval(() => {
        try { if (mine()) utimesSync(path, new Date(), new Date()); } catch { /* the next beat tries again */ }
      }, HEARTBEAT_MS);
      heartbeat.unref();
      const lock: Lock = {
        path, holder,
        release() {
          if (!held.delete(lock)) return;
          clearInterval(heartbeat);
          if (mine()) unlinkSync(path);
        },
      };
      held.add(lock);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => { for (const l of [...held]) { try { l.release(); } catch { /* exiting */ } } });
      }
      return lock;
    }
    const current = readLockHolder(path);
    if (!isStale(current, path) || !breakStale(path)) {
      // Re-read: a holder that just released leaves no file, and is worth one more try.
      if (existsSync(path)) throw new LockedError(path, readLockHolder(path) ?? current, what);
    }
  }
  throw new LockedError(path, readLockHolder(path), what);
}

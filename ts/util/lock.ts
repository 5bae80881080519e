import { chmodSync, existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import { openDatabase } from './sqlite.js';
import { MemeryError } from '../errors.js';
import { processAlive } from '../util/process.js';

/** Builds the error for a lock that a live process holds (`holder`: its pid, when known). */
export type LockBusy = (holder: number | undefined, path: string) => MemeryError;

/**
 * memery's one lock helper, for the catalog's index lock, the model download lock and the server's
 * one-per-home lock: an exclusive lock on `path`, held as an OS file lock (SQLite's EXCLUSIVE lock
 * on a small lock database) rather than "a file that exists": taking it is atomic, a second taker
 * in this or another process is refused, and the kernel drops it when the holder dies (SIGKILL
 * included), so there is no stale lock to judge and take over. The lock file itself is never
 * deleted (deleting it would let a waiter lock the old, unlinked file while a newcomer locks a new
 * one).
 *
 * `<path>.pid` names the holder for messages only; it plays no part in who holds the lock.
 * A live holder is waited for up to `timeoutMs`, then E_LOCKED names it: `busy` is either what is
 * being indexed (the catalog's message) or a function that builds the error.
 */
export async function acquireLock(path: string, timeoutMs: number, busy: string | LockBusy = 'the catalog'): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const release = tryLock(path);
    if (release) return release;
    if (Date.now() >= deadline) {
      const owner = lockOwner(path);
      if (typeof busy === 'function') throw busy(owner, path);
      throw new MemeryError('E_LOCKED', `Another memery process (${owner ? `pid ${owner}` : 'pid unknown'}) is indexing ${busy}`, {
        path,
        hint: 'Wait for it to finish, or stop it; a lock of a process that died is released by the system.',
      });
    }
    await sleep(50 + Math.random() * 50);
  }
}

/** The pid recorded by the current holder, when it is alive. */
export function lockOwner(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${path}.pid`, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a live process holds the lock at `path` (probed by taking it for a moment; no file: no). */
export function lockHeld(path: string): boolean {
  if (!existsSync(path)) return false;
  const release = tryLock(path);
  if (!release) return true;
  release();
  return false;
}

function tryLock(path: string): (() => void) | undefined {
  let db: Database.Database | undefined;
  try {
    db = openDatabase(path, { timeout: 0 });
    // EXCLUSIVE locking mode keeps the lock until the connection closes.
    db.pragma('locking_mode = EXCLUSIVE');
    // Nothing is ever written: no rollback journal file next to the lock (it would be 0644).
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db?.close();
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return undefined;
    if (code === 'SQLITE_NOTADB') {
      // A pid lock file written by an earlier memery: honour a live owner, replace a dead one's.
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) return undefined;
      try {
        unlinkSync(path);
      } catch {
        /* another process replaced it first */
      }
      return undefined;
    }
    throw new MemeryError('E_IO', `Cannot take the lock ${path}: ${(err as Error).message}`, { path, cause: err });
  }
  try {
    chmodSync(path, 0o600);
  } catch {
    /* not ours to tighten */
  }
  try {
    const tmp = `${path}.pid.${process.pid}`;
    writeFileSync(tmp, String(process.pid), { mode: 0o600 });
    renameSync(tmp, `${path}.pid`);
  } catch {
    /* the pid file is informational only */
  }
  const held = db;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      held.exec('ROLLBACK');
    } catch {
      /* nothing to roll back */
    }
    held.close();
  };
}

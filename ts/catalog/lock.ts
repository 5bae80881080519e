import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemeryError } from '../errors.js';
import { processAlive } from '../util/process.js';

/**
 * An exclusive lock file holding the owner's pid. A lock left by a dead process (SIGKILL) is taken
 * over; a live owner is waited for up to `timeoutMs`, then E_LOCKED names it.
 */
export async function acquireLock(path: string, timeoutMs: number, what = 'the catalog'): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        try {
          if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(path, 'utf8'));
    } catch {
      continue; // released between our open and read
    }
    if (!Number.isInteger(owner) || owner <= 0 || !processAlive(owner)) {
      try {
        unlinkSync(path); // stale
      } catch {
        /* raced with another taker */
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new MemeryError('E_LOCKED', `Another memery process (pid ${owner}) is indexing ${what}`, {
        path,
        hint: 'Wait for it to finish, or stop it; a lock left by a killed process is cleared automatically.',
      });
    }
    await sleep(100);
  }
}

/**
 * One server per home: the server holds memery's OS lock on `<home>/server.lock` (ts/util/lock.ts:
 * atomic, released by the kernel when the process dies) for as long as it runs, and writes where
 * it listens to `<home>/server.json` (pid, url, socket) once it holds it. A second server is
 * refused with E_LOCKED naming the running one.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readServerFile } from '@memery/client/home';
import { SERVER_FILE, SERVER_LOCK_FILE } from '@memery/client/protocol';
import type { ServerFile } from '@memery/client/schemas';
import { MemeryError } from '../errors.js';
import { acquireLock } from '../util/lock.js';

export { readServerFile };

function lockedError(home: string, holder: number | undefined): MemeryError {
  const info = readServerFile(home);
  const pid = holder ?? info?.pid;
  const where = info?.url && (holder === undefined || info.pid === holder) ? ` at ${info.url}` : '';
  return new MemeryError('E_LOCKED', `A memery server${pid ? ` (pid ${pid})` : ''} is already running for ${home}${where}`, {
    path: home,
    hint: 'Use that server (the CLI and launchers find it), or stop it first: one server per catalog.',
  });
}

export interface Claim {
  /** Records where the server listens. */
  update(info: Partial<ServerFile>): void;
  release(): void;
}

/** Claims `home` for this process's server, or throws E_LOCKED naming the running one. */
export async function claimHome(home: string): Promise<Claim> {
  const file = join(home, SERVER_FILE);
  const releaseLock = await acquireLock(join(home, SERVER_LOCK_FILE), 0, (holder) => lockedError(home, holder));
  let state: ServerFile = { pid: process.pid, startedAt: Date.now() };
  let released = false;
  const write = () => writeFileSync(file, JSON.stringify(state), { mode: 0o600 });
  try {
    write(); // replaces whatever a server that died left
  } catch (err) {
    releaseLock();
    throw err;
  }
  return {
    update(info) {
      if (released) return;
      state = { ...state, ...info };
      write();
    },
    release() {
      if (released) return;
      released = true;
      try {
        if (readServerFile(home)?.pid === process.pid) rmSync(file, { force: true });
      } finally {
        releaseLock();
      }
    },
  };
}

/**
 * One server per catalog: `<home>/server.json` is the server's pid file, created exclusively. A
 * second server finds it (or a live socket) and is refused with E_LOCKED; a file left by a dead
 * process is taken over.
 */
import { closeSync, existsSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { MemeryError } from '../errors.js';
import { ServerFileSchema, type ServerFile } from './api-schemas.js';
import { processAlive } from '../util/process.js';

export const SERVER_FILE = 'server.json';
export const SOCKET_FILE = 'memery.sock';

/** Homes served by this process (a pid file naming our own pid is only stale if we don't serve it). */
const servedHere = new Set<string>();

function statSafe(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

export function readServerFile(home: string): ServerFile | undefined {
  try {
    const r = ServerFileSchema.safeParse(JSON.parse(readFileSync(join(home, SERVER_FILE), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** Whether something answers HTTP on the Unix socket `path` (within `timeoutMs`). */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({ socketPath: path, path: '/api/ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

function lockedError(home: string, info: ServerFile | undefined): MemeryError {
  const where = info?.url ? ` at ${info.url}` : '';
  const pid = info ? ` (pid ${info.pid})` : '';
  return new MemeryError('E_LOCKED', `A memery server${pid} is already running for ${home}${where}`, {
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
  const sock = join(home, SOCKET_FILE);
  if (servedHere.has(home)) throw lockedError(home, readServerFile(home) ?? { pid: process.pid, startedAt: Date.now() });
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (fd !== undefined) {
      // A live server whose pid file was deleted still holds the socket.
      if (await socketAnswers(sock)) {
        closeSync(fd);
        unlinkSync(file);
        throw lockedError(home, undefined);
      }
      let state: ServerFile = { pid: process.pid, startedAt: Date.now() };
      try {
        writeSync(fd, JSON.stringify(state));
      } finally {
        closeSync(fd);
      }
      servedHere.add(home);
      let released = false;
      return {
        update(info) {
          if (released) return;
          state = { ...state, ...info };
          writeFileSync(file, JSON.stringify(state), { mode: 0o600 });
        },
        release() {
          if (released) return;
          released = true;
          servedHere.delete(home);
          try {
            if (readServerFile(home)?.pid === process.pid) unlinkSync(file);
          } catch {
            /* already gone */
          }
        },
      };
    }
    const info = readServerFile(home);
    if (!info) {
      // Unreadable: another server may have created it a moment ago and not written it yet.
      const age = Date.now() - (statSafe(file)?.mtimeMs ?? 0);
      if (age < 5_000) throw lockedError(home, undefined);
    }
    if (info && info.pid !== process.pid && processAlive(info.pid)) {
      // A live pid: trust it while it starts up; afterwards it must answer (the pid may be reused).
      const young = Date.now() - info.startedAt < 30_000;
      if (young || (await socketAnswers(info.socket ?? sock)) || !info.socket) throw lockedError(home, info);
    }
    try {
      unlinkSync(file); // stale (dead owner, our own pid from an earlier crash, or unreadable)
    } catch {
      /* raced with another taker */
    }
  }
  throw lockedError(home, readServerFile(home));
}

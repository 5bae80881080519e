/**
 * memery's home and the files a client reads there (Node only). The rule: MEMERY_HOME, else the
 * platform's data folder (what env-paths computes for "memery" without a suffix).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ENV_HOME, SERVER_FILE, SOCKET_FILE, TOKEN_FILE } from './protocol.js';
import type { ServerFile } from './schemas.js';

type Env = Record<string, string | undefined>;

/**
 * MEMERY_HOME (made absolute), else the platform data folder: ~/Library/Application Support/memery
 * (macOS), %LOCALAPPDATA%\memery\Data (Windows), $XDG_DATA_HOME/memery or ~/.local/share/memery.
 */
export function defaultHome(env: Env = process.env, platform: string = process.platform, home: string = homedir()): string {
  const fromEnv = env[ENV_HOME];
  if (fromEnv) return resolve(fromEnv);
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'memery');
  if (platform === 'win32') return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), 'memery', 'Data');
  return join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'memery');
}

/** A path as a user types it in a launcher's settings: `~` and `~/…` expanded, others made absolute ('' stays ''). */
export function expandHome(path: string, home: string = homedir()): string {
  const p = String(path ?? '').trim();
  if (p === '') return '';
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return resolve(p);
}

/** The server's Unix socket in `home` (it may be stale: nothing may answer there). */
export function socketPath(home: string): string {
  return join(home, SOCKET_FILE);
}

/** The per-install token of `home`'s server, when it has been created and is readable. */
export function readToken(home: string): string | undefined {
  try {
    return readFileSync(join(home, TOKEN_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** What `<home>/server.json` says about the running server (checked loosely: it may be stale). */
export function readServerFile(home: string): ServerFile | undefined {
  try {
    const v = JSON.parse(readFileSync(join(home, SERVER_FILE), 'utf8')) as Partial<ServerFile>;
    if (typeof v !== 'object' || v === null || !Number.isInteger(v.pid) || typeof v.startedAt !== 'number') return undefined;
    const out: ServerFile = { pid: v.pid!, startedAt: v.startedAt };
    if (typeof v.url === 'string') out.url = v.url;
    if (typeof v.socket === 'string' || v.socket === null) out.socket = v.socket;
    return out;
  } catch {
    return undefined;
  }
}

/**
 * Shared by the workflow's scripts (search.mjs, index.mjs): the workflow configuration (Alfred passes
 * the configuration sheet's values as environment variables), the memery home, the server client,
 * and finding and running the `memery` command.
 *
 * Plain Node ESM: it runs from the workflow folder, next to nothing. memery's protocol and client
 * (@memery/client) come bundled in ./client/ (`npm run build:client` writes it). Launchers do not
 * inherit the shell's PATH, so nothing here relies on PATH.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { abbreviateHome, cliError, defaultHome, ENV_ERROR_FORMAT, expandHome, ServerClient, socketPath } from './client/memery-client.mjs';

export { abbreviateHome, expandHome };

/** The memery home: the workflow's `memery_home`, else memery's own rule (MEMERY_HOME, else the platform data folder). */
export function memeryHome(env = process.env) {
  if (env.memery_home && env.memery_home.trim()) return expandHome(env.memery_home);
  return defaultHome(env);
}

/** memery's own config.json (for its `folders`), or {}. */
export function memeryConfig(home) {
  try {
    return JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
  } catch {
    return {};
  }
}

/**
 * The folders to search: the workflow's `folders` (one a line; `~` allowed), else memery's config
 * `folders`. Empty means "everything in the catalog" for the server.
 */
export function configuredFolders(env, home) {
  const fromWorkflow = String(env.folders ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map(expandHome);
  if (fromWorkflow.length > 0) return [...new Set(fromWorkflow)];
  const cfg = memeryConfig(home);
  return Array.isArray(cfg.folders) ? [...new Set(cfg.folders.filter((f) => typeof f === 'string' && f).map(expandHome))] : [];
}

/** The workflow's `result_count` (1..200, default 20). */
export function resultCount(env) {
  const n = Number.parseInt(String(env.result_count ?? ''), 10);
  return Number.isFinite(n) && n >= 1 ? Math.min(n, 200) : 20;
}

/** The folder for the workflow's own state (the server start marker, the server's log). */
export function cacheDirPath(env, home) {
  return env.alfred_workflow_cache ? resolve(env.alfred_workflow_cache) : join(home || tmpdir(), 'alfred');
}

/** The same, created when missing. */
export function cacheDir(env, home) {
  const dir = cacheDirPath(env, home);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Forgets that we started a server (it answered): a later start is not held back. */
export function clearServerStart(env, home) {
  const marker = join(cacheDirPath(env, home), 'serve-start.json');
  if (existsSync(marker)) rmSync(marker, { force: true });
}

// --- The server over its Unix socket -------------------------------------------------------------

/**
 * The client of the server for `home`, over its Unix socket (requests reject with
 * ServerUnavailable when nothing listens there).
 */
export function serverClient(home, timeoutMs = 10_000) {
  return new ServerClient({ socketPath: socketPath(home), timeoutMs });
}

/** What a server error says, with its hint. */
export function errorMessage(err) {
  const message = err?.message ?? String(err);
  return err?.hint ? `${message} (${err.hint})` : message;
}

// --- The memery command ---------------------------------------------------------------------------

/** Where memery is usually installed, besides next to the running node (npm -g puts it there). */
export function memeryCandidates(env = process.env) {
  const h = homedir();
  const list = [join(dirname(process.execPath), 'memery'), '/opt/homebrew/bin/memery', '/usr/local/bin/memery', join(h, '.volta', 'bin', 'memery')];
  const nvm = join(h, '.nvm', 'versions', 'node');
  try {
    for (const v of readdirSorted(nvm)) list.push(join(nvm, v, 'bin', 'memery'));
  } catch {
    /* no nvm */
  }
  list.push(join(h, '.npm-global', 'bin', 'memery'), join(h, '.local', 'bin', 'memery'), join(h, 'bin', 'memery'));
  if (env.npm_config_prefix) list.push(join(env.npm_config_prefix, 'bin', 'memery'));
  return [...new Set(list)];
}

function readdirSorted(dir) {
  // Newest Node version first (v22.1.0 before v20.11.1 before v9.0.0).
  const key = (v) => v.replace(/^v/, '').split('.').map((n) => n.padStart(6, '0')).join('.');
  return readdirSync(dir).sort((a, b) => (key(a) < key(b) ? 1 : -1));
}

function isFile(p) {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Whether `file` is a Node script (by extension or a `node` shebang), so it can run under our node. */
function isNodeScript(file) {
  if (/\.(c|m)?js$/.test(file)) return true;
  try {
    const fd = openSync(file, 'r');
    try {
      const head = Buffer.alloc(128);
      const n = readSync(fd, head, 0, 128, 0);
      const first = head.subarray(0, n).toString('utf8').split('\n')[0];
      return first.startsWith('#!') && /\bnode\b/.test(first);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * How to run memery: { command, args, display } or { missing, looked } when it cannot be found.
 * `memery_path` may name the `memery` executable, its `bin/memery.js`, or a memery checkout folder.
 */
export function findMemery(env = process.env) {
  const configured = String(env.memery_path ?? '').trim();
  let file;
  let looked;
  if (configured) {
    const p = expandHome(configured);
    looked = [p];
    if (isFile(p)) file = p;
    else if (isFile(join(p, 'bin', 'memery.js'))) file = join(p, 'bin', 'memery.js');
    else if (isFile(join(p, 'memery'))) file = join(p, 'memery');
    if (!file) return { missing: true, configured: p, looked };
  } else {
    looked = memeryCandidates(env);
    file = looked.find(isFile);
    if (!file) return { missing: true, looked };
  }
  let real = file;
  try {
    real = realpathSync(file);
  } catch {
    /* keep the link */
  }
  if (isNodeScript(real)) return { command: process.execPath, args: [real], display: file };
  return { command: real, args: [], display: file };
}

/** The environment for memery children: ours, with this node's folder first on PATH (for shims), errors as JSON lines. */
export function childEnv(env = process.env) {
  const nodeDir = dirname(process.execPath);
  const path = [nodeDir, '/opt/homebrew/bin', '/usr/local/bin', '/usr/bin', '/bin', env.PATH ?? ''].filter(Boolean).join(':');
  return { ...env, PATH: path, NO_COLOR: '1', [ENV_ERROR_FORMAT]: 'json' };
}

/** memery children still running: stopped with us when Alfred terminates this run (next keystroke). */
const children = new Set();
let signalsHandled = false;
function stopChildrenOnSignals() {
  if (signalsHandled) return;
  signalsHandled = true;
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(sig, () => {
      for (const c of children) c.kill('SIGTERM');
      process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15));
    });
  }
}

/** Runs memery with an argument array (never a shell). Resolves { code, stdout, stderr }. */
export async function runMemery(memery, args, { env = process.env, timeoutMs = 120_000 } = {}) {
  stopChildrenOnSignals();
  // Loaded here: the server path (every keystroke) never needs it.
  const { execFile } = await import('node:child_process');
  return new Promise((resolvePromise) => {
    const child = execFile(
      memery.command,
      [...memery.args, ...args],
      { env: childEnv(env), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        children.delete(child);
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolvePromise({ code, stdout: stdout ?? '', stderr: stderr || (err && typeof err.code !== 'number' ? err.message : '') || '' });
      },
    );
    children.add(child);
  });
}

/** The error memery printed on stderr (its JSON error line), as a message. */
export function memeryError(stderr) {
  return cliError(stderr).message;
}

/**
 * Starts `memery serve` in the background (detached, in its own session, its output appended to
 * `<cache>/serve.log`). Returns 'started'; 'starting' when one we started in the last `graceMs` is
 * still starting up; 'failed' when one we started in the last `retryMs` exited without ever
 * answering (search.mjs removes the marker once a server answers), so a broken setup is not
 * respawned on every keystroke.
 */
export async function startServer(memery, { env = process.env, home, graceMs = 30_000, retryMs = 300_000 } = {}) {
  const dir = cacheDir(env, home);
  const marker = join(dir, 'serve-start.json');
  try {
    const m = JSON.parse(readFileSync(marker, 'utf8'));
    const age = Date.now() - m.at;
    if (alive(m.pid) && age < graceMs) return 'starting';
    if (!alive(m.pid) && age < retryMs) return 'failed';
  } catch {
    /* none yet */
  }
  const { spawn } = await import('node:child_process');
  const log = openSync(join(dir, 'serve.log'), 'a');
  try {
    const childEnvironment = childEnv(env);
    if (home) childEnvironment.MEMERY_HOME = home;
    const child = spawn(memery.command, [...memery.args, 'serve'], {
      detached: true,
      stdio: ['ignore', log, log],
      env: childEnvironment,
      cwd: home && existsSync(home) ? home : homedir(),
    });
    child.on('error', () => undefined);
    if (child.pid === undefined) return 'failed';
    writeFileSync(marker, JSON.stringify({ pid: child.pid, at: Date.now() }));
    child.unref();
    return 'started';
  } finally {
    closeSync(log);
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

// --- Output ---------------------------------------------------------------------------------------

/** Writes `text` to stdout and resolves when it is handed to the OS. */
export function writeStdout(text) {
  return new Promise((res) => process.stdout.write(text, () => res()));
}

export { basename, dirname, isAbsolute, join };

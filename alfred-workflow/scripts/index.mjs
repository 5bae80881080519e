/**
 * The `memeindex` keyword (and the "Index with memery" file action): indexes a folder, or the
 * configured folders when none is given, and prints a one-line summary per folder, which Alfred
 * shows as a notification.
 *
 *   node scripts/index.mjs [FOLDER]
 *
 * Through the memery server when one runs (POST /api/index over the Unix socket, by @memery/client;
 * the server keeps its model warm and its watcher learns the folder), else `memery index FOLDER...
 * --json` (its errors as JSON lines).
 * Always exits 0: what went wrong is the notification's text.
 */
import { realpathSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerUnavailable } from './client/memery-client.mjs';
import { abbreviateHome, configuredFolders, errorMessage, expandHome, findMemery, memeryError, memeryHome, runMemery, serverClient, writeStdout } from './lib.mjs';

function isDir(p) {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

const fmt = (n) => Number(n).toLocaleString('en-US');

/** "memes: 1,234 images (12 new, 3 unreadable) in 4.2 s" */
export function summaryLine(s) {
  const parts = [];
  if (s.new) parts.push(`${fmt(s.new)} new`);
  if (s.reembedded) parts.push(`${fmt(s.reembedded)} changed`);
  if (s.moved) parts.push(`${fmt(s.moved)} moved`);
  if (s.removed) parts.push(`${fmt(s.removed)} removed`);
  if (s.failed) parts.push(`${fmt(s.failed)} unreadable`);
  const detail = parts.length ? ` (${parts.join(', ')})` : ' (no changes)';
  return `${basename(s.folder) || s.folder}: ${fmt(s.found)} images${detail} in ${Number(s.seconds).toFixed(1)} s`;
}

/** Indexes `folder` through the server (its index stream); throws ServerUnavailable when none runs. */
async function indexViaServer(home, folder) {
  const client = serverClient(home, 6 * 60 * 60 * 1000);
  try {
    return summaryLine(await client.index(folder));
  } catch (err) {
    if (err instanceof ServerUnavailable) throw err;
    return `${basename(folder)}: ${errorMessage(err)}`;
  } finally {
    client.close();
  }
}

export async function indexFolders(arg, env = process.env) {
  const home = memeryHome(env);
  const given = String(arg ?? '').trim();
  const folders = given ? [expandHome(given)] : configuredFolders(env, home);
  if (folders.length === 0) {
    return ['Nothing to index: type a folder after the keyword, or set “Folders” in Configure Workflow…'];
  }
  const lines = [];
  const existing = [];
  for (const f of folders) {
    if (isDir(f)) existing.push(f);
    else lines.push(`Not a folder: ${abbreviateHome(f)}`);
  }
  if (existing.length === 0) return lines;
  try {
    for (const f of existing) lines.push(await indexViaServer(home, f));
    return lines;
  } catch (err) {
    if (!(err instanceof ServerUnavailable)) return [...lines, `memery server failed: ${err.message}`];
  }
  const memery = findMemery(env);
  if (memery.missing) {
    return [...lines, memery.configured ? `memery not found at “${memery.configured}” (the workflow’s “memery path”)` : 'memery not found: set “memery path” in Configure Workflow…, or install memery (npm install -g memery)'];
  }
  const r = await runMemery(memery, ['index', ...existing, '--json'], { env: { ...env, MEMERY_HOME: home }, timeoutMs: 6 * 60 * 60 * 1000 });
  try {
    const parsed = JSON.parse(r.stdout);
    for (const s of Array.isArray(parsed) ? parsed : [parsed]) lines.push(summaryLine(s));
    if (r.code !== 0) lines.push(memeryError(r.stderr));
  } catch {
    lines.push(`memery index failed: ${memeryError(r.stderr)}`);
  }
  return lines;
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  const lines = await indexFolders(process.argv.slice(2).join(' '));
  await writeStdout(`${lines.join('\n')}\n`);
}

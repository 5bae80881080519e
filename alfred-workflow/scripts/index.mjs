/**
 * The `memeindex` keyword (and the "Index with memery" file action): indexes a folder, or the
 * configured folders when none is given, and prints a one-line summary per folder, which Alfred
 * shows as a notification.
 *
 *   node scripts/index.mjs [FOLDER]
 *
 * Through the memery server when one runs (POST /api/index over the Unix socket; the server keeps
 * its model warm and its watcher learns the folder), else `memery index FOLDER... --json`.
 * Always exits 0: what went wrong is the notification's text.
 */
import { realpathSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  abbreviateHome,
  configuredFolders,
  errorMessage,
  expandHome,
  findMemery,
  firstErrorLine,
  memeryHome,
  runMemery,
  ServerUnavailable,
  socketRequest,
  writeStdout,
} from './lib.mjs';

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

/** Parses a text/event-stream body into [{ event, data }]. */
function parseSse(text) {
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    let event = 'message';
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (data.length) events.push({ event, data: data.join('\n') });
  }
  return events;
}

async function indexViaServer(home, folder) {
  const res = await socketRequest(home, 'POST', '/api/index', { json: { folder }, timeoutMs: 6 * 60 * 60 * 1000 });
  if (res.status !== 200) return `${basename(folder)}: ${errorMessage(res)}`;
  const events = parseSse(res.body.toString('utf8'));
  const done = events.find((e) => e.event === 'done');
  if (done) return summaryLine(JSON.parse(done.data));
  const error = events.find((e) => e.event === 'error');
  if (error) return `${basename(folder)}: ${JSON.parse(error.data).message}`;
  return `${basename(folder)}: the server ended the index run without a summary`;
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
    if (r.code !== 0) lines.push(firstErrorLine(r.stderr));
  } catch {
    lines.push(`memery index failed: ${firstErrorLine(r.stderr)}`);
  }
  return lines;
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  const lines = await indexFolders(process.argv.slice(2).join(' '));
  await writeStdout(`${lines.join('\n')}\n`);
}

/**
 * The `meme` Script Filter (and the grid view's feed): prints Alfred Script Filter JSON for a query.
 *
 *   node scripts/search.mjs QUERY            (memery_view=grid in the environment for the Grid View)
 *
 * QUERY is text ("a cat in a box"), `id:<n>` (images like catalog file n; text after it mixes in),
 * or the path of an image file (images like it). It arrives as one argument, never through a shell.
 *
 * It asks the memery server over its Unix socket (<MEMERY_HOME>/memery.sock): a warm model answers
 * in milliseconds. When no server runs it starts `memery serve` in the background and meanwhile
 * runs `memery search FOLDER QUERY --format alfred --no-index` itself, asking Alfred to rerun
 * the filter until the server answers.
 *
 * Configuration (the workflow's configuration sheet, as environment variables): folders,
 * memery_path, node_path (used by find-node.zsh), result_count, memery_home, start_server.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  abbreviateHome,
  cacheDir,
  clearServerStart,
  configuredFolders,
  errorMessage,
  expandHome,
  findMemery,
  firstErrorLine,
  memeryHome,
  resultCount,
  runMemery,
  ServerUnavailable,
  socketRequest,
  startServer,
  THUMB_SIZE,
  writeStdout,
} from './lib.mjs';

const ICON = { path: 'icon.png' };

class ShownError extends Error {
  constructor(title, subtitle) {
    super(title);
    this.subtitle = subtitle;
  }
}

function isFile(p) {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The query object of the library/server from what was typed. */
export function parseQuery(raw) {
  const q = String(raw ?? '').trim();
  if (q === '') return undefined;
  if ((q.startsWith('/') || q.startsWith('~/')) && isFile(expandHome(q))) return { image: expandHome(q) };
  const m = /^id:(\d+)(?:\s+([\s\S]*))?$/.exec(q);
  if (m) {
    const text = (m[2] ?? '').trim();
    return text ? { image: `id:${m[1]}`, text } : { image: `id:${m[1]}` };
  }
  return { text: q };
}

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Thumbnails shared with `memery search --format alfred`: <home>/thumbs/<id>-<mtime>.jpg. */
function thumbPath(home, r) {
  return join(home, 'thumbs', `${r.id}-${Math.trunc(r.mtime)}.jpg`);
}

/** The cached thumbnail of a server result, fetched from GET /api/thumb/:id when missing. */
async function thumbIcon(home, r) {
  const p = thumbPath(home, r);
  if (existsSync(p)) return { path: p };
  try {
    const res = await socketRequest(home, 'GET', `/api/thumb/${r.id}?size=${THUMB_SIZE}`, { timeoutMs: 5_000 });
    if (res.status !== 200 || res.body.length === 0) throw new Error(`HTTP ${res.status}`);
    await mkdir(dirname(p), { recursive: true });
    const tmp = `${p}.${process.pid}.tmp`;
    await writeFile(tmp, res.body);
    await rename(tmp, p).catch(async (e) => {
      await rm(tmp, { force: true });
      throw e;
    });
    return { path: p };
  } catch {
    return { type: 'fileicon', path: r.path };
  }
}

/** Results from the running server, or throws ServerUnavailable. */
async function viaServer(home, query, folders, n) {
  const res = await socketRequest(home, 'POST', '/api/search', {
    json: { query, n, ...(folders.length ? { folders } : {}) },
  });
  if (res.status !== 200) throw new ShownError('memery could not search', errorMessage(res));
  const { results } = JSON.parse(res.body.toString('utf8'));
  const icons = await mapLimit(results, 6, (r) => thumbIcon(home, r));
  return results.map((r, i) => ({ id: r.id, path: r.path, score: r.score, icon: icons[i] }));
}

/** Folders among `folders` that the server's catalog does not cover. */
async function unindexed(home, folders) {
  try {
    const res = await socketRequest(home, 'GET', '/api/status', { timeoutMs: 3_000 });
    if (res.status !== 200) return [];
    const indexed = JSON.parse(res.body.toString('utf8')).folders.map((f) => f.path);
    return folders.filter((f) => !indexed.some((i) => f === i || f.startsWith(i.endsWith('/') ? i : `${i}/`)));
  } catch {
    return [];
  }
}

const SCORE = /^\s*(-?\d+(?:\.\d+)?)/;

/** Results from `memery search FOLDER … --format alfred --no-index`, one run per folder. */
async function viaCli(memery, home, query, folders, n, env) {
  if (folders.length === 0) {
    throw new ShownError('Which folders should memery search?', 'Set “Folders” in the workflow’s Configure Workflow… sheet (one folder a line)');
  }
  if (query.image?.startsWith('id:')) {
    throw new ShownError('Finding similar images needs the memery server', 'It is starting in the background; this search runs again in a moment');
  }
  const childEnv = { ...env, MEMERY_HOME: home };
  const runs = await mapLimit(folders, 2, (folder) => {
    const args = ['search', folder, '--format', 'alfred', '--no-index', '-n', String(n)];
    if (query.image) args.push('--image', query.image);
    if (query.text) args.push('--', query.text);
    return runMemery(memery, args, { env: childEnv });
  });
  const results = [];
  const failures = [];
  runs.forEach((r, i) => {
    if (r.code !== 0) {
      failures.push({ folder: folders[i], message: firstErrorLine(r.stderr) });
      return;
    }
    let doc;
    try {
      doc = JSON.parse(r.stdout);
    } catch {
      failures.push({ folder: folders[i], message: `unexpected output from memery: ${r.stdout.slice(0, 120)}` });
      return;
    }
    for (const it of doc.items ?? []) {
      const path = typeof it.arg === 'string' ? it.arg : it.uid;
      if (!path) continue;
      const score = Number(SCORE.exec(it.subtitle ?? '')?.[1] ?? Number.NaN);
      results.push({ path, score, icon: it.icon ?? { type: 'fileicon', path } });
    }
  });
  if (results.length === 0 && failures.length === runs.length) {
    throw new ShownError(`memery failed: ${failures[0].message}`, failures.length > 1 ? `and in ${failures.length - 1} more folder(s)` : abbreviateHome(failures[0].folder));
  }
  results.sort((a, b) => (Number.isNaN(b.score) ? -1 : Number.isNaN(a.score) ? 1 : b.score - a.score));
  const seen = new Set();
  const unique = results.filter((r) => (seen.has(r.path) ? false : (seen.add(r.path), true)));
  return { results: unique.slice(0, n), failures };
}

/** One Alfred item per result: the actions are wired in info.plist by modifier. */
export function resultItem(r, rawQuery, grid) {
  const name = basename(r.path);
  const score = Number.isFinite(r.score) ? r.score.toFixed(3) : '–';
  const mods = {
    cmd: { arg: r.path, subtitle: `Reveal in Finder: ${abbreviateHome(r.path)}` },
    alt: { arg: r.path, subtitle: 'Copy the path' },
    ctrl: { arg: r.id !== undefined ? `id:${r.id}` : r.path, subtitle: 'Find similar images' },
  };
  if (!grid) mods.fn = { arg: rawQuery, subtitle: 'Show these results in a grid' };
  return {
    uid: r.path,
    title: name,
    subtitle: `${score} · ${abbreviateHome(dirname(r.path))}`,
    arg: r.path,
    type: 'file',
    icon: r.icon,
    quicklookurl: r.path,
    text: { copy: r.path, largetype: name },
    mods,
  };
}

function message(title, subtitle, extra = {}) {
  return { title, subtitle, valid: false, icon: ICON, ...extra };
}

export async function search(rawQuery, env = process.env) {
  const grid = env.memery_view === 'grid';
  const home = memeryHome(env);
  const query = parseQuery(rawQuery);
  const doc = { skipknowledge: true, items: [] };
  if (!query) {
    doc.items.push(message('Search your images with memery', 'Type what you are looking for (“a cat in a box”), or id:<n> for images like one'));
    return doc;
  }
  const folders = configuredFolders(env, home);
  const n = resultCount(env);
  let results;
  let source = 'server';
  const notes = [];
  try {
    try {
      results = await viaServer(home, query, folders, n);
      clearServerStart(env, home);
      if (results.length === 0 && folders.length) {
        for (const f of await unindexed(home, folders)) {
          notes.push(message(`${abbreviateHome(f)} is not indexed yet`, `Index it with the ${env.index_keyword || 'memeindex'} keyword (or \`memery index\`)`));
        }
      }
    } catch (err) {
      if (!(err instanceof ServerUnavailable)) throw err;
      source = 'cli';
      const memery = findMemery(env);
      if (memery.missing) {
        throw new ShownError(
          'memery not found',
          memery.configured
            ? `“memery path” (${memery.configured}) is not the memery command: fix it in Configure Workflow…`
            : `Set “memery path” in Configure Workflow…, or install memery (npm install -g memery). Looked in ${[...new Set(memery.looked.map((p) => abbreviateHome(dirname(p))))].join(', ')}`,
        );
      }
      const start = env.start_server === '0' ? 'off' : await startServer(memery, { env, home });
      if ((start === 'started' || start === 'starting') && !grid) doc.rerun = 1;
      if (start === 'failed') {
        notes.push(message('The memery server did not start', `Searches are slower without it; see ${abbreviateHome(join(cacheDir(env, home), 'serve.log'))}`));
      }
      const r = await viaCli(memery, home, query, folders, n, env);
      results = r.results;
      for (const f of r.failures) notes.push(message(`Not searched: ${abbreviateHome(f.folder)}`, f.message));
    }
  } catch (err) {
    doc.variables = { memery_source: source };
    if (err instanceof ShownError) doc.items.push(message(err.message, err.subtitle));
    else doc.items.push(message('memery failed', err?.message ?? String(err)));
    return doc;
  }
  doc.variables = { memery_source: source };
  doc.items = results.map((r) => resultItem(r, String(rawQuery).trim(), grid));
  if (doc.items.length === 0) {
    doc.items.push(message(`No images match “${String(rawQuery).trim()}”`, folders.length ? `Searched ${folders.map(abbreviateHome).join(', ')}` : 'Searched everything memery has indexed'));
  }
  doc.items.push(...notes);
  return doc;
}

// Run as a script (not when imported).
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  const doc = await search(process.argv.slice(2).join(' '));
  await writeStdout(`${JSON.stringify(doc)}\n`);
}

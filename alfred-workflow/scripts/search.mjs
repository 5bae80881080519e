/**
 * The `meme` Script Filter (and the grid view's feed): prints Alfred Script Filter JSON for a query.
 *
 *   node scripts/search.mjs QUERY            (memery_view=grid in the environment for the Grid View)
 *
 * QUERY is text ("a cat in a box"), `id:<n>` (images like catalog file n; text after it mixes in),
 * or the path of an image file (images like it, whether memery has indexed it or not; text after it
 * mixes in too): ⌃ on a result, and the "Find similar memes" File and Universal Actions, rerun this
 * filter with one of those. It arrives as one argument, never through a shell.
 *
 * It asks the memery server over its Unix socket (<MEMERY_HOME>/memery.sock, by @memery/client): a
 * warm model answers in milliseconds. When no server runs it starts `memery serve` in the background
 * and meanwhile runs `memery search FOLDER --json --no-index -- QUERY` itself, asking Alfred to rerun
 * the filter until the server answers. Items are built by @memery/client's alfredItem, the function
 * behind `memery search --format alfred`: the subtitle shows the words in the image (OCR) around the
 * matched ones, ⇧ copies them (info.plist wires ⇧ to the clipboard), ⌘C copies them too. Icons are
 * the thumbnails memery stores in its home (a result's `thumb`); one a result lacks (none stored yet,
 * or a server from before the store) is fetched once from GET /api/thumb/:id into the workflow's
 * cache folder.
 *
 * No `cache` key: Alfred keeps one cached answer per Script Filter whatever the query, and would show
 * the first query's images for every later one (see AlfredScriptFilterSchema in @memery/client).
 *
 * Configuration (the workflow's configuration sheet, as environment variables): folders,
 * memery_path, node_path (used by find-node.zsh), result_count, memery_home, start_server.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alfredDocument, alfredIcon, alfredItem, mapLimit, mergeResults, ServerUnavailable, THUMB_SIZE } from './client/memery-client.mjs';
import {
  abbreviateHome,
  cacheDir,
  cacheDirPath,
  clearServerStart,
  configuredFolders,
  errorMessage,
  expandHome,
  findMemery,
  memeryError,
  memeryHome,
  resultCount,
  runMemery,
  serverClient,
  startServer,
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

/** How many word breaks of a path-led query are tried as the end of the image's path. */
const PATH_SPLITS = 32;

/**
 * `PATH` or `PATH words` when `q` starts with the path of an existing file (paths may hold spaces:
 * the longest prefix that is a file wins), else undefined.
 */
function imagePathQuery(q) {
  if (!(q.startsWith('/') || q.startsWith('~/'))) return undefined;
  if (isFile(expandHome(q))) return { image: expandHome(q) };
  const breaks = [...q.matchAll(/\s+/g)].slice(-PATH_SPLITS).reverse();
  for (const b of breaks) {
    const path = expandHome(q.slice(0, b.index));
    if (isFile(path)) {
      const text = q.slice(b.index + b[0].length).trim();
      return text ? { image: path, text } : { image: path };
    }
  }
  return undefined;
}

/** The query object of the library/server from what was typed. */
export function parseQuery(raw) {
  const q = String(raw ?? '').trim();
  if (q === '') return undefined;
  const byPath = imagePathQuery(q);
  if (byPath) return byPath;
  const m = /^id:(\d+)(?:\s+([\s\S]*))?$/.exec(q);
  if (m) {
    const text = (m[2] ?? '').trim();
    return text ? { image: `id:${m[1]}`, text } : { image: `id:${m[1]}` };
  }
  return { text: q };
}

/**
 * The icon of a server result that carries no usable thumbnail (`thumb` null: none stored yet;
 * absent: a server from before the thumbnail store; or its file gone): fetched once from the
 * server's thumbnail route (which stores it, so later answers carry it) into the workflow's cache
 * folder (`<cache>/thumbs/<id>-<mtime>.jpg`), else the file's own icon. Undefined when `thumb` is
 * there to use.
 */
async function fetchedThumb(client, dir, r) {
  const fileIcon = alfredIcon(r);
  if (fileIcon.type !== 'fileicon') return undefined; // its stored thumbnail
  if (typeof r.id !== 'number') return fileIcon;
  const p = join(dir, 'thumbs', `${r.id}-${Math.trunc(r.mtime ?? 0)}.jpg`);
  if (existsSync(p)) return { path: p };
  try {
    const data = await client.thumbnail(r.id, THUMB_SIZE, { timeoutMs: 5_000 });
    if (data.length === 0) throw new Error('empty thumbnail');
    await mkdir(dirname(p), { recursive: true });
    const tmp = `${p}.${process.pid}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, p).catch(async (e) => {
      await rm(tmp, { force: true });
      throw e;
    });
    return { path: p };
  } catch {
    return fileIcon;
  }
}

/** Results from the running server, or throws ServerUnavailable. */
async function viaServer(client, env, home, query, folders, n) {
  let results;
  try {
    results = await client.search(query, { n, folders });
  } catch (err) {
    if (err instanceof ServerUnavailable) throw err;
    throw new ShownError('memery could not search', errorMessage(err));
  }
  const dir = cacheDirPath(env, home);
  const icons = await mapLimit(results, 6, (r) => fetchedThumb(client, dir, r));
  // A fetched thumbnail (or the file's own icon) stands in for a `thumb` that is missing or gone.
  return results.map((r, i) => (icons[i] ? { ...r, icon: icons[i] } : r));
}

/** Folders among `folders` that the server's catalog does not cover. */
async function unindexed(client, folders) {
  try {
    const indexed = (await client.status({ timeoutMs: 3_000 })).folders.map((f) => f.path);
    return folders.filter((f) => !indexed.some((i) => f === i || f.startsWith(i.endsWith('/') ? i : `${i}/`)));
  } catch {
    return [];
  }
}

/** Results from `memery search FOLDER --json --no-index`, one run per folder, merged by score. */
async function viaCli(memery, home, query, folders, n, env) {
  if (folders.length === 0) {
    throw new ShownError('Which folders should memery search?', 'Set “Folders” in the workflow’s Configure Workflow… sheet (one folder a line)');
  }
  if (query.image?.startsWith('id:')) {
    throw new ShownError('Finding similar images needs the memery server', 'It is starting in the background; this search runs again in a moment');
  }
  const childEnv = { ...env, MEMERY_HOME: home };
  const runs = await mapLimit(folders, 2, (folder) => {
    const args = ['search', folder, '--json', '--no-index', '-n', String(n)];
    if (query.image) args.push('--image', query.image);
    if (query.text) args.push('--', query.text);
    return runMemery(memery, args, { env: childEnv });
  });
  const lists = [];
  const failures = [];
  runs.forEach((r, i) => {
    if (r.code !== 0) {
      failures.push({ folder: folders[i], message: memeryError(r.stderr) });
      return;
    }
    let doc;
    try {
      doc = JSON.parse(r.stdout);
    } catch {
      failures.push({ folder: folders[i], message: `unexpected output from memery: ${r.stdout.slice(0, 120)}` });
      return;
    }
    // The thumbnail memery stored (`thumb`: alfredIcon uses it while it is there), else the file's
    // own icon. No id: ⌃ (similar images) then searches by the path, which works without the server.
    lists.push(
      (doc.results ?? []).map((res) => ({
        path: res.path,
        score: res.score,
        text: res.text ?? null,
        match: res.match ?? null,
        thumb: res.thumb ?? null,
      })),
    );
  });
  if (lists.length === 0 && failures.length === runs.length) {
    throw new ShownError(`memery failed: ${failures[0].message}`, failures.length > 1 ? `and in ${failures.length - 1} more folder(s)` : abbreviateHome(failures[0].folder));
  }
  return { results: mergeResults(lists, n), failures };
}

/**
 * One Alfred item per result (@memery/client's alfredItem: the icon fetched here, else its `thumb`,
 * else the file's own): the actions are wired in info.plist by modifier.
 */
export function resultItem(r, rawQuery, grid) {
  return alfredItem(r, { ...(r.icon ? { icon: r.icon } : {}), abbreviate: true, actions: { query: rawQuery, grid } });
}

function message(title, subtitle, extra = {}) {
  return { title, subtitle, valid: false, icon: ICON, ...extra };
}

export async function search(rawQuery, env = process.env) {
  const grid = env.memery_view === 'grid';
  const home = memeryHome(env);
  const query = parseQuery(rawQuery);
  const doc = alfredDocument([]);
  if (!query) {
    doc.items.push(message('Search your images with memery', 'Type what you are looking for (“a cat in a box”), or id:<n> or an image’s path for images like it'));
    return doc;
  }
  const folders = configuredFolders(env, home);
  const n = resultCount(env);
  let results;
  let source = 'server';
  const notes = [];
  const client = serverClient(home);
  try {
    try {
      results = await viaServer(client, env, home, query, folders, n);
      clearServerStart(env, home);
      if (results.length === 0 && folders.length) {
        for (const f of await unindexed(client, folders)) {
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
  } finally {
    client.close();
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

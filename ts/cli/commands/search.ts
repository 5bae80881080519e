/**
 * `memery search [FOLDER] [QUERY] [--image FILE] [--not TEXT] [--not-image FILE] [-n N] [--threshold S]
 * [--no-index] [--exclude GLOB] [--json|--paths|-0|--format F]` (and its alias `recall`): indexes
 * what changed in FOLDER (quietly), then ranks FOLDER's images against the query. Without FOLDER
 * (the first word is not a folder: see splitFolderAndQuery) every catalog folder is searched as it
 * is. A running server answers when there is one; otherwise the model is loaded here.
 */
import { stat } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import { assertFolder } from '../../catalog/indexer.js';
import type { IndexSummary, SearchMode, SearchQueryObject, SearchResult } from '../../api/schemas.js';
import type { Memery } from '../../api/memery.js';
import { memeryOptions, openMemery, resolveHome, useColor, withInterrupt, writeOut, type GlobalOptions } from '../context.js';
import { UsageError } from '../errors.js';
import { isMemeryError, MemeryError } from '../../errors.js';
import { excludeMatcher, type PathMatcher } from '../../catalog/walk.js';
import { formatResults, type OutputFormat } from '../format/index.js';
import { didWork, failureLine } from '../format/summary.js';
import { IndexProgressView } from '../progress.js';
import { findServer, serverFits, type ServerLink } from '../server-link.js';

export interface SearchCommandOptions {
  image?: string;
  not?: string;
  notImage?: string;
  limit?: number;
  threshold?: number;
  /** false with --no-index. */
  index?: boolean;
  /** hybrid (default), clip or text. */
  mode?: SearchMode;
  /** false with --no-ocr: the indexing before the search reads no text. */
  ocr?: boolean;
  json?: boolean;
  paths?: boolean;
  null?: boolean;
  format?: OutputFormat;
  /** --exclude GLOB (repeatable): gitignore-style patterns left out of the folder. */
  exclude?: string[];
}

export const DEFAULT_LIMIT = 20;

/** The one output format the flags ask for; table in a TTY and paths in a pipe when none does. */
export function pickFormat(o: SearchCommandOptions, stdoutIsTTY: boolean): OutputFormat {
  const asked = new Set<OutputFormat>();
  if (o.format) asked.add(o.format);
  if (o.json) asked.add('json');
  if (o.paths) asked.add('paths');
  if (o.null) asked.add('nul');
  if (asked.size > 1) {
    throw new UsageError(`Expected one output format but received ${[...asked].join(' and ')}`, 'Use one of --json, --paths, -0 or --format.');
  }
  return [...asked][0] ?? (stdoutIsTTY ? 'table' : 'paths');
}

export function buildQuery(text: string | undefined, o: SearchCommandOptions): SearchQueryObject {
  const q: SearchQueryObject = {};
  if (text !== undefined && text.trim() !== '') q.text = text;
  if (o.image) q.image = resolve(o.image);
  if (o.not) q.negativeText = o.not;
  if (o.notImage) q.negativeImage = resolve(o.notImage);
  if (q.text === undefined && q.image === undefined) {
    throw new UsageError('Expected a query: QUERY text, --image FILE, or both', 'Example: memery search ~/Pictures "a dog on a beach"');
  }
  return q;
}


/** A word that reads as a path: /…, ~…, ./…, ../…, . or .., …/ (or C:\… and \… on Windows). */
export function looksLikePath(word: string): boolean {
  if (/^(\/|~|\.\.?([/\\]|$))/.test(word) || word.endsWith('/')) return true;
  return process.platform === 'win32' && (/^[A-Za-z]:[\\/]/.test(word) || word.startsWith('\\'));
}

/**
 * The folder rule: the first word is the folder when it is an existing directory, or reads as a
 * path (so a mistyped folder is an error, not a query); otherwise every word is the query and all
 * catalog folders are searched.
 */
export async function splitFolderAndQuery(first: string | undefined, rest: string[]): Promise<{ folder?: string; text?: string }> {
  const join = (words: string[]): string | undefined => (words.length ? words.join(' ') : undefined);
  if (first === undefined) return { text: join(rest) };
  const st = await stat(first).catch(() => undefined);
  if (st?.isDirectory() || looksLikePath(first)) return { folder: first, text: join(rest) };
  return { text: join([first, ...rest]) };
}

function reportIndex(summary: IndexSummary): void {
  // Failures are listed by every run; say them only when this run looked at files again.
  if (!didWork(summary)) return;
  for (const e of [...summary.skipped, ...summary.errors, ...(summary.textErrors ?? [])]) process.stderr.write(`${failureLine(e)}\n`);
}

interface CatalogFolder {
  path: string;
  files: number;
  failed: number;
}

/** The catalog folder that holds `path` (the deepest), if any. */
function folderOf(path: string, folders: CatalogFolder[]): CatalogFolder | undefined {
  let best: CatalogFolder | undefined;
  for (const f of folders) {
    const under = path === f.path || path.startsWith(f.path.endsWith(sep) ? f.path : f.path + sep);
    if (under && (!best || f.path.length > best.path.length)) best = f;
  }
  return best;
}

/** Drops results that --exclude matches (relative to the searched folder, else to their catalog folder). */
function excludeFilter(patterns: string[], folder: string | undefined, folders: CatalogFolder[]): ((r: SearchResult) => boolean) | undefined {
  if (!patterns.length) return undefined;
  const matcher: PathMatcher = excludeMatcher(patterns);
  return (r) => {
    const base = folder ?? folderOf(r.path, folders)?.path;
    if (!base) return true;
    const rel = relative(base, r.path);
    return rel === '' || rel.startsWith('..') || !matcher(rel.split(sep).join('/'), false);
  };
}

/**
 * Says on stderr when a query text is longer than the text model reads (it is cut, as CLIP
 * does). Short texts cannot be too long (a token is at least one byte), so the tokenizer is only
 * loaded for long ones; nothing is said when the model is not available (the search says so).
 */
async function warnLongTexts(g: GlobalOptions, home: string, texts: Array<string | undefined>): Promise<void> {
  const long = texts.filter((t): t is string => t !== undefined && Buffer.byteLength(t.replace(/\s+/g, '')) > 60);
  if (!long.length) return;
  try {
    const [{ loadConfig }, { resolveModel }, { ClipTokenizer }] = await Promise.all([
      import('../../config/load.js'),
      import('../../api/model-resolver.js'),
      import('../../tokenizer/index.js'),
    ]);
    const { home: _h, ...overrides } = memeryOptions(g);
    const layout = await resolveModel(home, loadConfig(home, overrides), { download: false });
    const tok =
      layout.tokenizer.kind === 'tokenizer.json'
        ? await ClipTokenizer.fromTokenizerJson(layout.tokenizer.paths[0])
        : await ClipTokenizer.fromVocabMerges(layout.tokenizer.paths[0], layout.tokenizer.paths[1]!);
    for (const t of long) {
      const n = tok.encodeText(t).length + 2; // with the start and end tokens
      if (n > layout.contextLength) {
        const shown = t.length > 40 ? `${t.slice(0, 37)}...` : t;
        process.stderr.write(
          `memery: warning: the query "${shown}" is ${n} tokens long but the text model reads ${layout.contextLength}: the rest is cut off\n`,
        );
      }
    }
  } catch {
    /* no model here: the search reports it */
  }
}

export async function runSearch(folderArg: string | undefined, text: string | undefined, o: SearchCommandOptions, g: GlobalOptions): Promise<void> {
  const format = pickFormat(o, process.stdout.isTTY === true);
  const query = buildQuery(text, o);
  const n = o.limit ?? DEFAULT_LIMIT;
  const folder = folderArg === undefined ? undefined : resolve(folderArg);
  if (folder) await assertFolder(folder);
  const exclude = o.exclude ?? [];
  const mode: SearchMode = o.mode ?? 'hybrid';
  // Without a folder, the catalog is searched as it is.
  const doIndex = folder !== undefined && o.index !== false;
  // With --exclude, more are asked for: some may be dropped.
  const asked = exclude.length ? Math.min(10_000, n * 4 + 16) : n;
  const searchOptions = { ...(folder ? { folders: [folder] } : {}), n: asked, ...(o.threshold !== undefined ? { threshold: o.threshold } : {}) };

  const home = await resolveHome(g);
  let results: SearchResult[];
  let folders: CatalogFolder[] = [];
  let best: number | undefined; // the best score, when the threshold left nothing
  const { threshold: _t, ...unthresholded } = { ...searchOptions, n: 1 };
  let link: ServerLink | undefined = await findServer(home);
  // --exclude is this run's: the server indexes with its own settings.
  if (link && (!serverFits(link, g) || exclude.length)) {
    link.close();
    link = undefined;
  }
  const nothingIndexed = (): MemeryError =>
    new MemeryError('E_NOT_FOUND', 'No folder is indexed yet, so there is nothing to search', {
      hint: 'Index one first (`memery index FOLDER`), or give the folder: `memery search FOLDER QUERY`.',
    });
  const warned = warnLongTexts(g, home, [query.text, query.negativeText]);
  const view = new IndexProgressView({ stream: process.stderr, label: folder ?? '', transient: true, color: useColor(process.stderr) });
  const indexOptions = { ...(o.ocr === false ? { ocr: false } : {}), ...(exclude.length ? { exclude } : {}) };
  // This run's Memery, kept open for --format alfred's missing thumbnails (opened for them after a server search).
  let memery: Promise<Memery> | undefined;
  if (link) {
    const l = link;
    // The server indexes in its own process; Ctrl-C here just stops waiting for it.
    try {
      if (!folder && (folders = await l.folders()).length === 0) throw nothingIndexed();
      if (doIndex) {
        try {
          reportIndex(await l.index(folder!, view.update, o.ocr === false ? { ocr: false } : {}));
        } finally {
          view.done();
        }
      }
      // hybrid is the server's default: left out, so an older server (no `mode`) still answers.
      results = await l.search(query, { ...searchOptions, ...(mode !== 'hybrid' ? { mode } : {}) });
      if (results.length === 0) {
        folders = await l.folders();
        if (o.threshold !== undefined) best = (await l.search(query, { ...unthresholded, ...(mode !== 'hybrid' ? { mode } : {}) }))[0]?.score;
      }
    } finally {
      l.close();
    }
  } else {
    const m = await (memery = openMemery(g, { oneShot: true })); // one query, then exit: fastest model load
    try {
      if (!folder && (folders = m.folders()).length === 0) throw nothingIndexed();
      if (doIndex) {
        try {
          reportIndex(
            await withInterrupt(
              (signal) => m.index(folder!, { signal, onProgress: view.update, ...indexOptions }),
              () => view.done(),
            ),
          );
        } catch (err) {
          // A full disk stops indexing, not searching: the catalog is read as it is.
          if (!isMemeryError(err, 'E_DISK_FULL')) throw err;
          view.done();
          process.stderr.write(`memery: warning: ${err.message}; searching the catalog as it is, without indexing\n`);
        } finally {
          view.done();
        }
      }
      results = await m.search(query, { ...searchOptions, mode });
      folders = m.folders();
      if (results.length === 0 && o.threshold !== undefined) best = (await m.search(query, { ...unthresholded, mode }))[0]?.score;
    } catch (err) {
      await m.close();
      throw err;
    }
  }
  try {
    const keep = excludeFilter(exclude, folder, folders);
    if (keep) results = results.filter(keep);
    results = results.slice(0, n);
    await warned;
    const ctx = {
      query,
      folder: folder ?? null,
      n,
      home,
      color: useColor(process.stdout),
      thumbnail: async (id: number) => (await (memery ??= openMemery(g))).thumbnail(id),
      ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
      ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
    };
    await writeOut(await formatResults(format, results, ctx));
    if (results.length === 0 && (format === 'table' || format === 'paths' || format === 'nul')) {
      const why = await whyNoResults({ folder, folders, doIndex, threshold: o.threshold, best, mode, excluded: keep !== undefined });
      if (why) process.stderr.write(`No results: ${why}.\n`);
      else if (format === 'table') process.stderr.write('No results.\n');
    }
  } finally {
    await (await memery?.catch(() => undefined))?.close();
  }
}

/** Why a search found nothing, when that can be told: a folder not in the catalog, an empty one, the threshold. */
async function whyNoResults(s: {
  folder: string | undefined;
  folders: CatalogFolder[];
  doIndex: boolean;
  threshold: number | undefined;
  best: number | undefined;
  mode: SearchMode;
  excluded: boolean;
}): Promise<string | undefined> {
  if (s.folder) {
    const holder = folderOf(s.folder, s.folders);
    if (!holder) {
      return `${s.folder} is not in the catalog${s.doIndex ? '' : ' (--no-index searches only what is indexed: index it with `memery index FOLDER`, or search without --no-index)'}`;
    }
    if (holder.path === s.folder && holder.files === 0) {
      return `${s.folder} is empty: it holds no images memery can index${holder.failed ? ` (${holder.failed} could not be read)` : ''}`;
    }
  } else if (s.folders.every((f) => f.files === 0)) {
    return 'the indexed folders hold no images';
  }
  if (s.threshold !== undefined) {
    const b = s.best;
    if (b === undefined) return s.mode === 'text' ? "no image's text matches the words (--mode text)" : 'no indexed image is there to score';
    return `no result scored at least the threshold ${s.threshold} (--threshold); the best scored ${b}`;
  }
  if (s.mode === 'text') return "no image's text matches the words (--mode text)";
  if (s.excluded) return 'every result was left out by --exclude';
  return undefined;
}

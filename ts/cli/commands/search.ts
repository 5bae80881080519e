/**
 * `memery search FOLDER [QUERY] [--image FILE] [--not TEXT] [--not-image FILE] [-n N] [--threshold S]
 * [--no-index] [--json|--paths|-0|--format F]` (and its alias `recall`): indexes what changed in
 * FOLDER (quietly), then ranks FOLDER's images against the query. A running server answers when
 * there is one; otherwise the model is loaded here.
 */
import { resolve } from 'node:path';
import { assertFolder } from '../../catalog/indexer.js';
import type { IndexSummary, SearchMode, SearchQueryObject, SearchResult } from '../../api/schemas.js';
import { openMemery, resolveHome, useColor, withInterrupt, writeOut, type GlobalOptions } from '../context.js';
import { UsageError } from '../errors.js';
import { isMemeryError } from '../../errors.js';
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

function reportIndex(summary: IndexSummary): void {
  // Failures are listed by every run; say them only when this run looked at files again.
  if (!didWork(summary)) return;
  for (const e of [...summary.skipped, ...summary.errors, ...(summary.textErrors ?? [])]) process.stderr.write(`${failureLine(e)}\n`);
}

export async function runSearch(folderArg: string, text: string | undefined, o: SearchCommandOptions, g: GlobalOptions): Promise<void> {
  const format = pickFormat(o, process.stdout.isTTY === true);
  const query = buildQuery(text, o);
  const n = o.limit ?? DEFAULT_LIMIT;
  const folder = resolve(folderArg);
  await assertFolder(folder);
  const searchOptions = { folders: [folder], n, ...(o.threshold !== undefined ? { threshold: o.threshold } : {}) };
  const mode: SearchMode = o.mode ?? 'hybrid';
  const doIndex = o.index !== false;

  const home = await resolveHome(g);
  let results: SearchResult[];
  let link: ServerLink | undefined = await findServer(home);
  // The server's search request has no mode yet, and it indexes with its own settings.
  if (link && (!serverFits(link, g) || mode !== 'hybrid' || o.ocr === false)) {
    link.close();
    link = undefined;
  }
  const view = new IndexProgressView({ stream: process.stderr, label: folder, transient: true, color: useColor(process.stderr) });
  if (link) {
    // The server indexes in its own process; Ctrl-C here just stops waiting for it.
    try {
      if (doIndex) {
        try {
          reportIndex(await link.index(folder, view.update));
        } finally {
          view.done();
        }
      }
      results = await link.search(query, searchOptions);
    } finally {
      link.close();
    }
  } else {
    const m = await openMemery(g, { oneShot: true }); // one query, then exit: fastest model load
    try {
      if (doIndex) {
        try {
          reportIndex(
            await withInterrupt(
              (signal) => m.index(folder, { signal, onProgress: view.update, ...(o.ocr === false ? { ocr: false } : {}) }),
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
    } finally {
      await m.close();
    }
  }
  const ctx = {
    query,
    folder,
    n,
    home,
    color: useColor(process.stdout),
    ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
    ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
  };
  await writeOut(await formatResults(format, results, ctx));
  if (results.length === 0 && format === 'table') process.stderr.write('No results.\n');
}

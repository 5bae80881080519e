/**
 * Search results as an HTML grid for notebooks (the original memery had a Jupyter GUI). Works in
 * any kernel that shows HTML: Deno's Jupyter kernel displays objects with
 * `[Symbol.for('Jupyter.display')]`, IJavascript objects with `_toMime()` / `_toHtml()`, and tslab
 * takes the string through `tslab.display.html()`. See docs/notebooks.md.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { mapLimit } from '@memery/client/map-limit';
import { THUMB_SIZE } from '@memery/client/protocol';
import type { SearchResult } from '../api/schemas.js';
import { THUMBNAIL_QUALITY } from '../native/image-encoder.js';
import { thumbnail } from '../native/image-ops.js';

export interface ResultsHTMLOptions {
  /**
   * 'data-uri' (default): JPEG thumbnails embedded in the HTML, so the output survives saving and
   * sharing the notebook; 'file': `<img src="file://...">` links to the originals, small and
   * instant, but only shown where the viewer may read local files (e.g. an HTML file opened
   * locally; browsers block file: URLs inside served notebooks).
   */
  thumbnails?: 'data-uri' | 'file';
  /**
   * Thumbnail edge in pixels (default 160). Up to THUMB_SIZE (256) the image is the one memery
   * stored while indexing (a result's `thumb`); larger ones, and results without one, are made
   * from the file.
   */
  size?: number;
  /** Caption under each image (default 'name'). */
  caption?: 'name' | 'path' | 'none';
  /** Show scores (default true). */
  scores?: boolean;
  /** Thumbnails made at a time (default 8). */
  concurrency?: number;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Renders results as a self-contained HTML grid (inline styles only, no scripts). */
export async function resultsToHTML(results: readonly SearchResult[], opts: ResultsHTMLOptions = {}): Promise<string> {
  const size = Math.max(32, Math.min(1024, Math.round(opts.size ?? 160)));
  const mode = opts.thumbnails ?? 'data-uri';
  const caption = opts.caption ?? 'name';
  const scores = opts.scores ?? true;
  const sources = await mapLimit([...results], opts.concurrency ?? 8, async (r): Promise<string | undefined> => {
    if (mode === 'file') return pathToFileURL(r.path).href;
    if (r.thumb && size <= THUMB_SIZE) {
      try {
        return `data:image/jpeg;base64,${(await readFile(r.thumb)).toString('base64')}`;
      } catch {
        // evicted or removed since the search: made from the file below
      }
    }
    try {
      const t = await thumbnail(r.path, { size: size * 2 > 512 ? size : size * 2, format: 'jpeg', quality: THUMBNAIL_QUALITY });
      return `data:image/jpeg;base64,${t.data.toString('base64')}`;
    } catch {
      return undefined; // unreadable now: a placeholder cell
    }
  });
  const cells = results.map((r, i) => {
    const src = sources[i];
    const title = escapeHtml(`${r.path}${r.width && r.height ? ` (${r.width}×${r.height})` : ''} score ${r.score}`);
    const img = src
      ? `<img src="${escapeHtml(src)}" alt="${escapeHtml(basename(r.path))}" loading="lazy" style="max-width:100%;max-height:100%;object-fit:contain;display:block">`
      : `<span style="color:#999;font-size:12px">unreadable</span>`;
    const label = caption === 'none' ? '' : escapeHtml(caption === 'path' ? r.path : basename(r.path));
    const foot =
      label || scores
        ? `<div style="display:flex;justify-content:space-between;gap:6px;font:12px/1.3 system-ui,sans-serif;color:#666;padding:3px 2px 0">` +
          `<span style="overflow:hidden;text-overflow:ellipsis;white-space:nowrap">${label}</span>` +
          (scores ? `<span style="font-variant-numeric:tabular-nums;color:#222">${r.score.toFixed(3)}</span>` : '') +
          `</div>`
        : '';
    return (
      `<figure class="memery-result" data-id="${r.id}" title="${title}" style="margin:0;width:${size}px">` +
      `<div style="width:${size}px;height:${size}px;display:flex;align-items:center;justify-content:center;background:#f3f3f3;border-radius:6px;overflow:hidden">${img}</div>` +
      foot +
      `</figure>`
    );
  });
  const body = cells.length ? cells.join('') : `<div style="color:#666;font:13px system-ui,sans-serif">No results.</div>`;
  return `<div class="memery-results" style="display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start">${body}</div>`;
}

const DISPLAY = Symbol.for('Jupyter.display');

/** Rendered results that notebook kernels display as HTML. */
export class ResultsHTML {
  readonly html: string;
  readonly results: readonly SearchResult[];

  constructor(html: string, results: readonly SearchResult[]) {
    this.html = html;
    this.results = results;
  }

  #plain(): string {
    return this.results.map((r) => `${r.score.toFixed(3)}  ${r.path}`).join('\n') || 'No results.';
  }

  /** Deno's Jupyter kernel (and kernels following it): a MIME bundle. */
  [DISPLAY](): Record<string, string> {
    return { 'text/html': this.html, 'text/plain': this.#plain() };
  }

  /** IJavascript. */
  _toMime(): Record<string, string> {
    return this[DISPLAY]();
  }

  /** IJavascript (older versions). */
  _toHtml(): string {
    return this.html;
  }

  toString(): string {
    return this.html;
  }
}

/**
 * `await toHTML(results)` as the last expression of a notebook cell shows the grid (Deno,
 * IJavascript); `tslab.display.html((await toHTML(results)).html)` in tslab.
 */
export async function toHTML(results: readonly SearchResult[], opts: ResultsHTMLOptions = {}): Promise<ResultsHTML> {
  return new ResultsHTML(await resultsToHTML(results, opts), results);
}

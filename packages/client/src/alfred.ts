/**
 * Alfred Script Filter items for search results, built here only: by `memery search --format
 * alfred` and by the Alfred workflow (server and CLI answers alike). An item's icon is the one the
 * caller gives, else the result's `thumb` (the JPEG thumbnail memery stores in its home) while that
 * file is there, else the file's own icon. Node only (it checks the thumbnail on disk).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname } from 'node:path';
import type { AlfredIcon, AlfredItem, AlfredScriptFilter } from './alfred-schema.js';
import { snippetText, textSnippet } from './protocol.js';
import type { SearchResult } from './schemas.js';

export type { AlfredIcon, AlfredItem, AlfredModifier, AlfredScriptFilter } from './alfred-schema.js';

/** `/Users/me/Pictures` -> `~/Pictures`. */
export function abbreviateHome(p: string, home: string = homedir()): string {
  return p === home ? '~' : p.startsWith(home + '/') ? `~${p.slice(home.length)}` : p;
}

/** What alfredItem reads of a result: SearchResult's fields, `thumb` optional (servers before thumbnails leave it out). */
export type AlfredResult = Pick<SearchResult, 'path' | 'score'> & Partial<Pick<SearchResult, 'text' | 'match'>> & { id?: number; thumb?: string | null };

/**
 * A result's icon: its stored thumbnail (`thumb`) when it has one and the file is there, else the
 * file's own icon (`type: 'fileicon'`: a caller may fetch or make a thumbnail instead).
 */
export function alfredIcon(r: Pick<AlfredResult, 'path' | 'thumb'>): AlfredIcon {
  return typeof r.thumb === 'string' && r.thumb !== '' && existsSync(r.thumb) ? { path: r.thumb } : { type: 'fileicon', path: r.path };
}

export interface AlfredItemOptions {
  /**
   * The item's icon, for a caller that knows better than the result (its `thumb` is missing or its
   * file gone, and the caller made or fetched one). Default: alfredIcon(r).
   */
  icon?: AlfredIcon;
  /** Show the folder as `~/…` in the subtitle. */
  abbreviate?: boolean;
  /**
   * The workflow's modifier actions: ⌘ reveal, ⌥ copy the path, ⌃ images like this one (`id:<n>`),
   * ⇧ copy the text in the image, and (outside the grid) fn: the same query in the grid view.
   */
  actions?: { query: string; grid: boolean };
}

/** Characters of an image's text shown in an item's subtitle. */
export const ALFRED_SNIPPET_WIDTH = 50;

/**
 * One result as an Alfred item: a file item (Quick Look, file actions) titled by its name. The
 * subtitle is the score and folder, after a snippet of the image's text (OCR) when it has some, around
 * the words that matched; ⌘C copies that text (else the path) and ⌘L shows it in Large Type.
 */
export function alfredItem(r: AlfredResult, o: AlfredItemOptions = {}): AlfredItem {
  const name = basename(r.path);
  const score = Number.isFinite(r.score) ? r.score.toFixed(3) : '–';
  const folder = o.abbreviate ? abbreviateHome(dirname(r.path)) : dirname(r.path);
  const text = typeof r.text === 'string' && r.text !== '' ? r.text : undefined;
  const words = text ? snippetText(textSnippet(text, r.match, { width: ALFRED_SNIPPET_WIDTH, lead: 6 })) : '';
  const item: AlfredItem = {
    uid: r.path,
    title: name,
    subtitle: `${words ? `\u201c${words}\u201d \u00b7 ` : ''}${score} \u00b7 ${folder}`,
    arg: r.path,
    type: 'file',
    icon: o.icon ?? alfredIcon(r),
    quicklookurl: r.path,
    text: { copy: text ?? r.path, largetype: text ?? name },
  };
  if (o.actions) {
    const mods: NonNullable<AlfredItem['mods']> = {
      cmd: { arg: r.path, subtitle: `Reveal in Finder: ${abbreviateHome(r.path)}` },
      alt: { arg: r.path, subtitle: 'Copy the path' },
      ctrl: { arg: r.id !== undefined ? `id:${r.id}` : r.path, subtitle: 'Find similar images' },
      shift: text ? { arg: text, subtitle: `Copy the text: ${snippetText(textSnippet(text, null, { width: ALFRED_SNIPPET_WIDTH }))}` } : { valid: false, subtitle: 'No text found in this image' },
    };
    if (!o.actions.grid) mods.fn = { arg: o.actions.query, subtitle: 'Show these results in a grid' };
    item.mods = mods;
  }
  return item;
}

/**
 * A Script Filter document of result items (memery's order: Alfred's learning is off). No `cache`:
 * Alfred keeps one cached answer per Script Filter, whatever the query, and does not run the script
 * while it is fresh (see AlfredScriptFilterSchema), so a query-driven filter must not set it.
 */
export function alfredDocument(items: AlfredItem[], extra: Omit<AlfredScriptFilter, 'items'> = {}): AlfredScriptFilter {
  return { skipknowledge: true, ...extra, items };
}

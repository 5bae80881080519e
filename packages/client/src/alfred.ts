/**
 * Alfred Script Filter items for search results, built here only: by `memery search --format
 * alfred` and by the Alfred workflow (server and CLI answers alike). Thumbnails are cached under
 * `<home>/thumbs/<file id>-<mtime>.jpg` by whichever of them makes one first.
 */
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { AlfredIcon, AlfredItem, AlfredScriptFilter } from './alfred-schema.js';
import { snippetText, textSnippet } from './protocol.js';
import type { SearchResult } from './schemas.js';

export type { AlfredIcon, AlfredItem, AlfredModifier, AlfredScriptFilter } from './alfred-schema.js';

/** Where the thumbnail of `r` is cached in `home`. */
export function alfredThumbPath(home: string, r: Pick<SearchResult, 'id' | 'mtime'>): string {
  return join(home, 'thumbs', `${r.id}-${Math.trunc(r.mtime)}.jpg`);
}

/** `/Users/me/Pictures` -> `~/Pictures`. */
export function abbreviateHome(p: string, home: string = homedir()): string {
  return p === home ? '~' : p.startsWith(home + '/') ? `~${p.slice(home.length)}` : p;
}

export interface AlfredItemOptions {
  /** The item's icon (a cached thumbnail, or the file's own icon). */
  icon: AlfredIcon;
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
export function alfredItem(r: Pick<SearchResult, 'path' | 'score'> & Partial<Pick<SearchResult, 'text' | 'match'>> & { id?: number }, o: AlfredItemOptions): AlfredItem {
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
    icon: o.icon,
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

/** A Script Filter document of result items (memery's order: Alfred's learning is off). */
export function alfredDocument(items: AlfredItem[], extra: Omit<AlfredScriptFilter, 'items'> = {}): AlfredScriptFilter {
  return { skipknowledge: true, ...extra, items };
}

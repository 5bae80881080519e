/**
 * Alfred Script Filter items for search results, built here only: by `memery search --format
 * alfred` and by the Alfred workflow (server and CLI answers alike). Thumbnails are cached under
 * `<home>/thumbs/<file id>-<mtime>.jpg` by whichever of them makes one first.
 */
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { AlfredIcon, AlfredItem, AlfredScriptFilter } from './alfred-schema.js';
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
   * and (outside the grid) fn: the same query in the grid view.
   */
  actions?: { query: string; grid: boolean };
}

/** One result as an Alfred item: a file item (Quick Look, file actions) titled by its name, scored in the subtitle. */
export function alfredItem(r: Pick<SearchResult, 'path' | 'score'> & { id?: number }, o: AlfredItemOptions): AlfredItem {
  const name = basename(r.path);
  const score = Number.isFinite(r.score) ? r.score.toFixed(3) : '–';
  const folder = o.abbreviate ? abbreviateHome(dirname(r.path)) : dirname(r.path);
  const item: AlfredItem = {
    uid: r.path,
    title: name,
    subtitle: `${score} \u00b7 ${folder}`,
    arg: r.path,
    type: 'file',
    icon: o.icon,
    quicklookurl: r.path,
    text: { copy: r.path, largetype: name },
  };
  if (o.actions) {
    const mods: NonNullable<AlfredItem['mods']> = {
      cmd: { arg: r.path, subtitle: `Reveal in Finder: ${abbreviateHome(r.path)}` },
      alt: { arg: r.path, subtitle: 'Copy the path' },
      ctrl: { arg: r.id !== undefined ? `id:${r.id}` : r.path, subtitle: 'Find similar images' },
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

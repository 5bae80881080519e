/**
 * `--format alfred`: Alfred Script Filter JSON, its items built by @memery/client/alfred (the same
 * function the Alfred workflow uses). Icons are the thumbnails of the library's store (a result's
 * `thumb`); one not stored yet is made and stored through the search's own Memery (the context's
 * `thumbnail`), the file's own icon when it cannot be made.
 */
import { alfredDocument, alfredIcon, alfredItem, type AlfredIcon, type AlfredScriptFilter } from '@memery/client/alfred';
import { mapLimit } from '@memery/client/map-limit';
import type { SearchResult } from '../../api/schemas.js';
import type { FormatContext } from './types.js';

/** Makes (and stores) the thumbnail of catalog file `id`, resolving to its path: Memery.thumbnail. */
export type MakeThumbnail = (id: number) => Promise<string>;

/** What --format alfred reads besides the common context: how to make a missing thumbnail. */
export interface AlfredFormatContext extends FormatContext {
  thumbnail?: MakeThumbnail;
}

/** The stored thumbnail of `r` (made now if missing); the file's own icon when it cannot be made. */
async function icon(r: SearchResult, thumbnail: MakeThumbnail | undefined): Promise<AlfredIcon> {
  const stored = alfredIcon(r);
  if (stored.type !== 'fileicon' || !thumbnail) return stored;
  try {
    return { path: await thumbnail(r.id) };
  } catch {
    return stored;
  }
}

export async function alfredResults(results: SearchResult[], thumbnail?: MakeThumbnail): Promise<AlfredScriptFilter> {
  const icons = await mapLimit(results, 4, (r) => icon(r, thumbnail));
  return alfredDocument(results.map((r, i) => alfredItem(r, { icon: icons[i]! })));
}

export const formatAlfred = async (results: SearchResult[], ctx: AlfredFormatContext): Promise<string> =>
  `${JSON.stringify(await alfredResults(results, ctx.thumbnail))}\n`;

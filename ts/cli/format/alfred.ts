/**
 * `--format alfred`: Alfred Script Filter JSON, its items built by @memery/client/alfred (the same
 * function the Alfred workflow uses). Icons are the thumbnails of the library's store (a result's
 * `thumb`); one not stored yet is made and stored through the library (Memery.thumbnail, opened on
 * this home only when needed), the file's own icon when it cannot be made.
 */
import { existsSync } from 'node:fs';
import { alfredDocument, alfredItem, type AlfredIcon, type AlfredScriptFilter } from '@memery/client/alfred';
import { mapLimit } from '@memery/client/map-limit';
import { Memery } from '../../api/memery.js';
import type { SearchResult } from '../../api/schemas.js';
import type { Formatter } from './types.js';

/** Makes missing thumbnails through one Memery on `home`, opened on first need. */
class Thumbnails {
  #memery: Promise<Memery> | undefined;
  constructor(readonly home: string) {}

  /** The stored thumbnail of `r` (made now if missing); the file's own icon when it cannot be made. */
  async icon(r: SearchResult): Promise<AlfredIcon> {
    if (r.thumb && existsSync(r.thumb)) return { path: r.thumb };
    try {
      this.#memery ??= Memery.open({ home: this.home }, { onWarning: () => {} });
      return { path: await (await this.#memery).thumbnail(r.id) };
    } catch {
      return { type: 'fileicon', path: r.path };
    }
  }

  async close(): Promise<void> {
    await (await this.#memery?.catch(() => undefined))?.close();
  }
}

export async function alfredResults(results: SearchResult[], home: string): Promise<AlfredScriptFilter> {
  const thumbs = new Thumbnails(home);
  try {
    const icons = await mapLimit(results, 4, (r) => thumbs.icon(r));
    return alfredDocument(results.map((r, i) => alfredItem(r, { icon: icons[i]! })));
  } finally {
    await thumbs.close();
  }
}

export const formatAlfred: Formatter = async (results, ctx) => `${JSON.stringify(await alfredResults(results, ctx.home))}\n`;

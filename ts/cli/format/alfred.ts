/**
 * `--format alfred`: Alfred Script Filter JSON, its items built by @memery/client/alfred (the same
 * function the Alfred workflow uses). Icons are thumbnails made by the library (libvips) and cached
 * under `<home>/thumbs/<file id>-<mtime>.jpg`, so a file that changes gets a new one.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { alfredDocument, alfredItem, alfredThumbPath, type AlfredIcon, type AlfredScriptFilter } from '@memery/client/alfred';
import { THUMB_SIZE } from '@memery/client/protocol';
import { thumbnail } from '../../native/image-ops.js';
import type { SearchResult } from '../../api/schemas.js';
import type { Formatter } from './types.js';

/** The cached thumbnail of `r`, made now if missing; the file's own icon when it cannot be made. */
export async function thumbnailIcon(home: string, r: SearchResult): Promise<AlfredIcon> {
  const p = alfredThumbPath(home, r);
  if (existsSync(p)) return { path: p };
  try {
    const t = await thumbnail(r.path, { size: THUMB_SIZE, format: 'jpeg' });
    await mkdir(dirname(p), { recursive: true });
    const tmp = `${p}.${process.pid}.tmp`;
    await writeFile(tmp, t.data);
    await rename(tmp, p).catch(async (e: unknown) => {
      await rm(tmp, { force: true });
      throw e;
    });
    return { path: p };
  } catch {
    return { type: 'fileicon', path: r.path };
  }
}

async function mapLimit<T, U>(items: T[], limit: number, fn: (t: T) => Promise<U>): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function alfredResults(results: SearchResult[], home: string): Promise<AlfredScriptFilter> {
  const icons = await mapLimit(results, 4, (r) => thumbnailIcon(home, r));
  return alfredDocument(results.map((r, i) => alfredItem(r, { icon: icons[i]! })));
}

export const formatAlfred: Formatter = async (results, ctx) => `${JSON.stringify(await alfredResults(results, ctx.home))}\n`;

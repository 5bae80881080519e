/**
 * Alfred Script Filter JSON. Icons are thumbnails made by the library (libvips) and cached under
 * `<home>/thumbs/<file id>-<mtime>.jpg`, so a file that changes gets a new one.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { thumbnail } from '../../native/image-ops.js';
import type { SearchResult } from '../../api/schemas.js';
import type { AlfredIcon, AlfredScriptFilter } from './alfred-schema.js';
import type { Formatter } from './types.js';

export const THUMB_SIZE = 256;

export function thumbPath(home: string, r: Pick<SearchResult, 'id' | 'mtime'>): string {
  return join(home, 'thumbs', `${r.id}-${Math.trunc(r.mtime)}.jpg`);
}

/** The cached thumbnail of `r`, made now if missing; the file's own icon when it cannot be made. */
export async function thumbnailIcon(home: string, r: SearchResult): Promise<AlfredIcon> {
  const p = thumbPath(home, r);
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

export async function alfredDocument(results: SearchResult[], home: string): Promise<AlfredScriptFilter> {
  const icons = await mapLimit(results, 4, (r) => thumbnailIcon(home, r));
  return {
    skipknowledge: true,
    items: results.map((r, i) => ({
      uid: r.path,
      title: basename(r.path),
      subtitle: `${r.score.toFixed(3)} \u00b7 ${dirname(r.path)}`,
      arg: r.path,
      type: 'file',
      icon: icons[i]!,
      quicklookurl: r.path,
      text: { copy: r.path, largetype: basename(r.path) },
    })),
  };
}

export const formatAlfred: Formatter = async (results, ctx) => `${JSON.stringify(await alfredDocument(results, ctx.home))}\n`;

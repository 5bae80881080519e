import { opendir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** Extensions memery indexes (lower case). Other files are ignored, not reported. */
export const IMAGE_EXTENSIONS = new Set([
  '.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.gif', '.webp', '.tif', '.tiff', '.bmp', '.avif', '.heic', '.heif', '.jxl',
]);

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(path).toLowerCase());
}

export interface WalkedFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/**
 * Every image file under `root` (absolute paths, sorted). Hidden files and folders are skipped;
 * symlinks are followed, but each real folder is visited once, so loops cannot hang the walk.
 * Unreadable folders are skipped and reported through `onError`; `exclude` folders are not entered.
 */
export async function walkImages(
  root: string,
  opts: { signal?: AbortSignal; onError?: (path: string, err: Error) => void; exclude?: string[] } = {},
): Promise<WalkedFile[]> {
  const out: WalkedFile[] = [];
  // Folders never walked (memery's own home: thumbnails and models are not the user's images).
  const seen = new Set<string>(await Promise.all((opts.exclude ?? []).map((p) => realpath(p).catch(() => p))));
  const stack = [root];
  while (stack.length) {
    opts.signal?.throwIfAborted();
    const dir = stack.pop()!;
    let real: string;
    try {
      real = await realpath(dir);
    } catch (err) {
      opts.onError?.(dir, err as Error);
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    let handle;
    try {
      handle = await opendir(dir);
    } catch (err) {
      opts.onError?.(dir, err as Error);
      continue;
    }
    for await (const ent of handle) {
      if (ent.name.startsWith('.')) continue;
      const p = join(dir, ent.name);
      let isDir = ent.isDirectory();
      let isFile = ent.isFile();
      if (ent.isSymbolicLink()) {
        try {
          const st = await stat(p);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          continue; // dangling link
        }
      }
      if (isDir) stack.push(p);
      else if (isFile && isImagePath(p)) {
        try {
          const st = await stat(p);
          out.push({ path: p, size: st.size, mtimeMs: st.mtimeMs });
        } catch (err) {
          opts.onError?.(p, err as Error);
        }
      }
    }
  }
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}

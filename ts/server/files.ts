/**
 * Catalog files and their thumbnails, served by id only. A file is opened once (by its catalog
 * path, O_NONBLOCK) and then what was opened is checked: a regular file whose real path (Linux:
 * the kernel's name for the open descriptor; elsewhere realpath, with the same device and inode as
 * the descriptor) lies inside the real path of a catalog folder, with image bytes. Only that
 * descriptor is read, for the file and for its thumbnail, so a symlink swapped between the check
 * and the read cannot redirect either. Thumbnails come from the library's store (made while
 * indexing) when the catalog's record still describes what was opened; else they are made from the
 * descriptor's bytes, and stored when those are the content the catalog has for the file.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { open, readFile, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, isAbsolute, sep } from 'node:path';
import type { Memery } from '../api/memery.js';
import { HttpError } from './http.js';
import { sniffImageType } from './security.js';

/** The path of what `fh` has open: on Linux the kernel's own name for it; elsewhere realpath of `path`. */
async function openedPath(fh: FileHandle, path: string): Promise<string | undefined> {
  if (process.platform === 'linux') {
    const p = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
    if (p !== undefined) return isAbsolute(p) && !p.endsWith(' (deleted)') ? p : undefined;
  }
  return realpath(path).catch(() => undefined);
}

interface Folder {
  path: string;
  real: string;
}

/** Thumbnails: kept by the browser, asked again each time (a 304 costs a catalog lookup). */
const THUMB_CACHE = 'private, no-cache';

export interface Servable {
  fh: FileHandle;
  path: string;
  real: string;
  st: Stats;
}

export class FileServer {
  readonly #memery: Memery;
  /** Catalog folders (real paths) for the containment check; dropped after every job. */
  #folders: { at: number; folders: Folder[] } | undefined;

  constructor(memery: Memery) {
    this.#memery = memery;
  }

  /** The catalog's folders changed: read them again on the next check. */
  invalidate(): void {
    this.#folders = undefined;
  }

  async #refresh(): Promise<Folder[]> {
    const folders = await Promise.all(this.#memery.folders().map(async (f) => ({ path: f.path, real: await realpath(f.path).catch(() => f.path) })));
    this.#folders = { at: Date.now(), folders };
    return folders;
  }

  /**
   * Opens catalog file `id` once and checks what was opened: an `ok` catalog file, a regular file,
   * whose real path lies inside the real path of a catalog folder (its own). The caller reads only
   * from the returned handle and closes it.
   */
  async open(id: number): Promise<Servable> {
    const f = this.#memery.file(id);
    if (!f) throw new HttpError(404, 'E_NOT_FOUND', `No catalog file with id ${id}`);
    const gone = () => new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is gone from disk`);
    // O_NONBLOCK: a FIFO put in the image's place must not hang the open.
    const fh = await open(f.path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | (fsConstants.O_NOCTTY ?? 0)).catch(() => undefined);
    if (!fh) throw gone();
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is not a regular file`);
      const real = await openedPath(fh, f.path);
      if (!real) throw gone();
      // The name we check must be the file we opened (same device and inode).
      const named = await stat(real).catch(() => undefined);
      if (!named || named.dev !== st.dev || named.ino !== st.ino) {
        throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} changed while it was being opened`);
      }
      const under = (p: string, dir: string) => p.startsWith(dir.endsWith(sep) ? dir : dir + sep);
      const inside = (folders: Folder[]) => folders.some((d) => under(f.path, d.path) && under(real, d.real));
      let ok = inside(this.#folders?.folders ?? (await this.#refresh()));
      if (!ok && this.#folders && Date.now() - this.#folders.at > 2_000) ok = inside(await this.#refresh());
      if (!ok) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is not served: it resolves outside the indexed folders`);
      return { fh, path: f.path, real, st };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** The catalog path of file `id`, after the same checks (for `id:<n>` image queries). */
  async pathOf(id: number): Promise<string> {
    const o = await this.open(id);
    await o.fh.close();
    return o.path;
  }

  /**
   * GET /api/thumb/:id: a JPEG of at most `size` px square of the checked file. From the store when
   * the catalog's record still describes what was opened (size, mtime); else made from the
   * descriptor's bytes, and stored when they are the catalog's content. The ETag names the content
   * (its hash) and size: a file that changes gets a new one; `no-cache` makes the browser ask each
   * time, answered 304 from the catalog without reading the image.
   */
  async sendThumbnail(req: IncomingMessage, res: ServerResponse, id: number, size: number): Promise<void> {
    const o = await this.open(id);
    try {
      const { st } = o;
      const etagOf = (hash: string) => `W/"t${hash}-${size}"`;
      const notModified = (etag: string): boolean => {
        if (req.headers['if-none-match'] !== etag) return false;
        res.writeHead(304, { ETag: etag, 'Cache-Control': THUMB_CACHE }).end();
        return true;
      };
      let data: Buffer | undefined;
      let etag = '';
      const stored = this.#memery.storedThumbnail(id, size, st);
      if (stored) {
        etag = etagOf(stored.hash);
        if (notModified(etag)) return;
        data = await readFile(stored.path).catch(() => undefined); // pruned meanwhile: made below
      }
      if (!data) {
        // The library's limit on image files (config maxFileBytes): never read a larger one whole.
        if (st.size > this.#memery.config.maxFileBytes) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is too large for a thumbnail`);
        const bytes = await o.fh.readFile();
        if (!sniffImageType(bytes.subarray(0, 32))) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is no longer an image`);
        // Made from the bytes read from the checked descriptor, never from a path opened again.
        const made = await this.#memery.thumbnailOfBytes(id, bytes, size);
        etag = etagOf(made.hash);
        if (notModified(etag)) return;
        data = made.data;
      }
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': data.length, 'Cache-Control': THUMB_CACHE, ETag: etag });
      res.end(data);
    } finally {
      await o.fh.close();
    }
  }

  /** GET /api/file/:id: the image itself, streamed from the checked descriptor (an attachment with `download`). */
  async sendFile(req: IncomingMessage, res: ServerResponse, id: number, download: boolean): Promise<void> {
    const o = await this.open(id);
    let handedOff = false;
    try {
      const { st } = o;
      const head = Buffer.alloc(32);
      await o.fh.read(head, 0, 32, 0);
      const type = sniffImageType(head);
      if (!type) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is no longer an image`);
      const name = basename(o.path);
      const etag = `"f${id}-${st.dev}-${st.ino}-${Math.round(st.mtimeMs)}-${st.size}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { ETag: etag }).end();
        return;
      }
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': st.size,
        'Content-Disposition': `${download ? 'attachment' : 'inline'}; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
        'Cache-Control': 'private, max-age=60',
        'Content-Security-Policy': "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        ETag: etag,
      });
      if (st.size === 0) {
        res.end();
        return;
      }
      const stream = o.fh.createReadStream({ start: 0, end: st.size - 1, autoClose: true });
      handedOff = true;
      stream.on('error', () => res.destroy());
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    } finally {
      if (!handedOff) await o.fh.close();
    }
  }
}

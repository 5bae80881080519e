/**
 * `memery serve`: one process per catalog that keeps the model and the index warm and answers the
 * CLI, the launchers and the web GUI over HTTP, on 127.0.0.1 (default port 7627, config `port`,
 * MEMERY_PORT) and on the Unix socket `<home>/memery.sock` (mode 0600).
 *
 * Endpoints (JSON unless noted; schemas in ./api-schemas.ts):
 *   GET  /                      the web GUI (the page embeds the token); /app.js, /app.css, /favicon.svg
 *   GET  /api/ping              {name: 'memery', version, pid, home, url, socket} (cheap identity check)
 *   GET  /api/status            library status + server info
 *   POST /api/search            {query, n?, threshold?, folders?} -> {results, ms}
 *   POST /api/search-image      raw image body (<= 32 MiB) + query-string options -> {results, ms}   [token]
 *   POST /api/index             {folder} -> text/event-stream: progress..., done | error             [token]
 *   POST /api/forget            {folder} -> {folder, removed}                                        [token]
 *   GET  /api/events            text/event-stream of every job: progress, done, error, forgotten, changed
 *   GET  /api/thumb/:id?size=   JPEG thumbnail of a catalog file (default 256 px)
 *   GET  /api/file/:id          the image itself (?download=1 for an attachment)
 *
 * Safety rules:
 *  - Files are named by catalog id only; there is no path parameter anywhere, routes are matched
 *    exactly, and a file is served only when it is an `ok` catalog file whose real path (symlinks
 *    resolved) lies inside the real path of a catalog folder and whose bytes are an image.
 *  - Over TCP the Host header must be a loopback name with the listening port (DNS rebinding), a
 *    POST's Origin (when sent) must be that same origin, JSON bodies must be application/json, and
 *    no CORS headers are ever sent. State-changing calls (index, forget, search-image) need the
 *    header `X-Memery-Token: <token>`: missing -> 401, wrong -> 403. The token lives in
 *    `<home>/server-token` (mode 0600) and is embedded in the GUI page, which only same-origin
 *    scripts can read. Image queries over TCP must be `id:<n>` (or an upload), never server paths.
 *  - The Unix socket needs no token and no Host check: its mode (0600) admits only the owner, who
 *    can read the token file anyway. Image queries over the socket may name any local path.
 *  - A non-loopback host needs `allowRemote`; then every request needs the token (the header, or
 *    the cookie set by opening the printed `/?token=` URL), and the Host check is left to it.
 *  - Read-only calls over loopback TCP (the page, search, status, thumbnails, files) need no token,
 *    so other accounts on a shared machine can reach them (a limit of loopback TCP; the socket has
 *    none). Uploads go to `<home>/tmp` (0700) and are deleted after the search.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, unlinkSync, chmodSync } from 'node:fs';
import { mkdir, open, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { Memery } from '../api/memery.js';
import type { MemeryOptions, SearchQuery, SearchQueryObject, SearchResult } from '../api/schemas.js';
import { defaultHome } from '../config/load.js';
import { isMemeryError, MemeryError } from '../errors.js';
import {
  DEFAULT_PORT,
  ForgetRequestSchema,
  IdParamSchema,
  IndexRequestSchema,
  MAX_JSON_BYTES,
  MAX_UPLOAD_BYTES,
  SearchImageParamsSchema,
  SearchRequestSchema,
  ThumbParamsSchema,
  TOKEN_HEADER,
  type PingResponse,
  type ServerInfo,
  type StatusResponse,
} from './api-schemas.js';
import { loadAssets, packageVersion } from './assets.js';
import { HttpError, STATUS_OF } from './http-error.js';
import { claimHome, SOCKET_FILE } from './instance.js';
import { openBrowser } from './open-browser.js';
import { ThumbCache } from './thumb-cache.js';
import { JobQueue } from './jobs.js';
import { allowedHosts, EXTENSION_OF, hostPort, isLoopbackHost, loadOrCreateToken, sniffImageType, tokenMatches } from './security.js';
import { FolderWatcher } from './watch.js';

export { DEFAULT_PORT } from './api-schemas.js';

export interface ServerOptions {
  /** MEMERY_HOME (default: the platform data folder, or MEMERY_HOME). */
  home?: string;
  /** TCP port (default: config `port`, i.e. 7627). 0 picks a free one. */
  port?: number;
  /** Address to listen on (default 127.0.0.1). A non-loopback one needs `allowRemote`. */
  host?: string;
  /** Allow a non-loopback `host`; every request then needs the token. */
  allowRemote?: boolean;
  /** Also listen on `<home>/memery.sock` (default true). */
  socket?: boolean;
  /** Watch the indexed folders (and config `folders`) and index changes (default: config `watch`). */
  watch?: boolean;
  /** Open the GUI in the default browser. */
  open?: boolean;
  /** Options for Memery.open (`home` here is ignored in favour of the top-level one). */
  memery?: MemeryOptions;
  /** Watch debounce, ms (default 500). */
  watchDebounceMs?: number;
  /** Log lines (watch errors, warnings). Default: stderr. */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** GUI URL (with `?token=` when listening beyond loopback). */
  url: string;
  port: number;
  host: string;
  socketPath?: string;
  token: string;
  home: string;
  memery: Memery;
  close(): Promise<void>;
}

/** Longest accepted Unix socket path (sun_path is 108 bytes on Linux, 104 on macOS). */
const MAX_SOCKET_PATH = 103;

interface RequestContext {
  viaSocket: boolean;
  /** Whether the request carried the right token (or came over the socket). */
  tokenOk: boolean;
}

/** Starts the server; throws E_LOCKED when one already serves this home. */
export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const home = resolve(opts.home ?? opts.memery?.home ?? defaultHome());
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? ((line: string) => process.stderr.write(`memery serve: ${line}\n`));
  const loopback = isLoopbackHost(host);
  if (!loopback && !opts.allowRemote) {
    throw new MemeryError('E_USAGE', `Refusing to listen on ${host}: it is not a loopback address`, {
      hint: 'Anyone who can reach it could search your images. Pass --allow-remote (allowRemote) to accept it; every request then needs the token.',
    });
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const claim = await claimHome(home);
  const cleanups: Array<() => Promise<void> | void> = [() => claim.release()];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        log(`shutdown: ${(err as Error).message}`);
      }
    }
  };
  try {
    return await start();
  } catch (err) {
    await cleanup();
    throw err;
  }

  async function start(): Promise<RunningServer> {
    const token = loadOrCreateToken(home);
    const memery = await Memery.open({ ...opts.memery, home });
    cleanups.push(() => memery.close());
    const port = opts.port ?? memery.config.port ?? DEFAULT_PORT;
    const jobs = new JobQueue(memery);
    cleanups.push(() => jobs.close());
    const assets = loadAssets();
    const thumbs = new ThumbCache(64 * 1024 * 1024);
    const version = packageVersion();
    const uploadDir = join(home, 'tmp');
    const sseClients = new Set<ServerResponse>();
    let boundPort = port;
    let url = '';
    let socketPath: string | undefined;
    let hosts = new Set<string>();
    const watchOn = opts.watch ?? memery.config.watch;
    const watcher = watchOn
      ? new FolderWatcher({ debounceMs: opts.watchDebounceMs ?? 500, onSettled: (f) => jobs.requestIndex(f), log })
      : undefined;

    // Catalog folders (real paths) for the containment check; refreshed after every job.
    let folderCache: { at: number; folders: Array<{ path: string; real: string }> } | undefined;
    const refreshFolders = async (): Promise<Array<{ path: string; real: string }>> => {
      const folders = await Promise.all(
        memery.folders().map(async (f) => ({ path: f.path, real: await realpath(f.path).catch(() => f.path) })),
      );
      folderCache = { at: Date.now(), folders };
      return folders;
    };
    jobs.on('changed', () => {
      folderCache = undefined;
    });

    // Broadcast job events to /api/events listeners.
    const broadcast = (event: string, data: unknown) => {
      const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      for (const res of sseClients) res.write(frame);
    };
    let lastProgress = 0;
    jobs.on('progress', (p) => {
      const now = Date.now();
      if (p.phase === 'encode' && p.done !== 0 && p.done !== p.total && now - lastProgress < 100) return;
      lastProgress = now;
      broadcast('progress', p);
    });
    jobs.on('done', (d) => broadcast('done', { ...d.summary, source: d.source }));
    jobs.on('error', (e) => {
      broadcast('error', e);
      if (e.source !== 'api') log(`indexing ${e.folder} failed: ${e.message}`);
    });
    jobs.on('forgotten', (f) => broadcast('forgotten', f));
    jobs.on('changed', () => broadcast('changed', {}));
    jobs.on('done', (d) => void watcher?.add(d.folder));
    jobs.on('forgotten', (f) => void watcher?.remove(f.folder));

    /** Path of catalog file `id` when it may be served: ok, inside a catalog folder (real paths), still there. */
    async function servablePath(id: number): Promise<{ path: string; real: string; mtime: number; bytes: number }> {
      const f = memery.file(id);
      if (!f) throw new HttpError(404, 'E_NOT_FOUND', `No catalog file with id ${id}`);
      const real = await realpath(f.path).catch(() => undefined);
      if (!real) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is gone from disk`);
      const inside = (folders: Array<{ path: string; real: string }>) =>
        folders.some((d) => f.path.startsWith(d.path.endsWith(sep) ? d.path : d.path + sep) && real.startsWith(d.real.endsWith(sep) ? d.real : d.real + sep));
      let ok = inside(folderCache?.folders ?? (await refreshFolders()));
      if (!ok && folderCache && Date.now() - folderCache.at > 2_000) ok = inside(await refreshFolders());
      if (!ok) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is not served: it resolves outside the indexed folders`);
      return { path: f.path, real, mtime: f.mtime, bytes: f.bytes };
    }

    /** Maps `id:<n>` image references to catalog paths; other paths only over the socket. */
    async function resolveImageRef(value: string | undefined, ctx: RequestContext, field: string): Promise<string | undefined> {
      if (value === undefined) return undefined;
      const m = /^id:(\d+)$/.exec(value);
      if (m) return (await servablePath(Number(m[1]))).path;
      if (!ctx.viaSocket) {
        throw new HttpError(400, 'E_USAGE', `Expected ${field} to be id:<n> (a catalog file id)`, {
          hint: 'Image paths are accepted over the Unix socket only; upload an image with POST /api/search-image.',
          issues: [{ code: 'custom', path: ['query', field], message: 'Expected id:<n>' }],
        });
      }
      if (!isAbsolute(value)) throw new HttpError(400, 'E_USAGE', `Expected ${field} to be an absolute path or id:<n>`);
      return value;
    }

    async function resolveQuery(q: SearchQuery, ctx: RequestContext): Promise<SearchQuery> {
      if (typeof q === 'string') return q;
      const out: SearchQueryObject = { ...q };
      const image = await resolveImageRef(q.image, ctx, 'image');
      const negativeImage = await resolveImageRef(q.negativeImage, ctx, 'negativeImage');
      if (image !== undefined) out.image = image;
      if (negativeImage !== undefined) out.negativeImage = negativeImage;
      return out;
    }

    // ---- helpers -----------------------------------------------------------------------------

    const baseHeaders = (res: ServerResponse) => {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('X-Frame-Options', 'DENY');
    };

    const sendJson = (res: ServerResponse, status: number, body: unknown) => {
      const data = Buffer.from(JSON.stringify(body));
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': data.length, 'Cache-Control': 'no-store' });
      res.end(data);
    };

    const sendError = (res: ServerResponse, err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        sendJson(res, err.status, { error: { code: err.code, message: err.message, ...err.extra } });
      } else if (err instanceof z.ZodError) {
        const issue = err.issues[0];
        const where = issue?.path.length ? issue.path.join('.') : '(body)';
        sendJson(res, 400, { error: { code: 'E_USAGE', message: `Invalid request: ${where}: ${issue?.message}`, issues: err.issues } });
      } else if (isMemeryError(err)) {
        const body: Record<string, unknown> = { code: err.code, message: err.message };
        if (err.hint) body.hint = err.hint;
        sendJson(res, STATUS_OF[err.code] ?? 500, { error: body });
      } else {
        log(`internal error: ${(err as Error)?.stack ?? String(err)}`);
        sendJson(res, 500, { error: { code: 'E_INTERNAL', message: (err as Error)?.message ?? String(err) } });
      }
    };

    const readBody = (req: IncomingMessage, limit: number): Promise<Buffer> =>
      new Promise((resolveBody, reject) => {
        const declared = Number(req.headers['content-length']);
        if (Number.isFinite(declared) && declared > limit) {
          reject(new HttpError(413, 'E_TOO_LARGE', `Expected a body of at most ${limit} bytes but received ${declared}`));
          req.resume();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        req.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limit) {
            reject(new HttpError(413, 'E_TOO_LARGE', `Expected a body of at most ${limit} bytes`));
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        req.on('end', () => resolveBody(Buffer.concat(chunks)));
        req.on('error', reject);
      });

    const readJson = async (req: IncomingMessage): Promise<unknown> => {
      const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') throw new HttpError(415, 'E_USAGE', `Expected Content-Type application/json but received ${type || 'none'}`);
      const body = await readBody(req, MAX_JSON_BYTES);
      try {
        return JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new HttpError(400, 'E_USAGE', `Invalid JSON body: ${(err as Error).message}`);
      }
    };

    const requireToken = (ctx: RequestContext, req: IncomingMessage) => {
      if (ctx.viaSocket) return;
      const presented = req.headers[TOKEN_HEADER];
      if (typeof presented !== 'string' || !presented) {
        throw new HttpError(401, 'E_AUTH', `This endpoint needs the ${TOKEN_HEADER} header`, { hint: `The token is in ${join(home, 'server-token')}.` });
      }
      if (!tokenMatches(presented, token)) throw new HttpError(403, 'E_AUTH', `Wrong ${TOKEN_HEADER}`);
    };

    const parseSearch = (params: URLSearchParams): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const key of new Set(params.keys())) out[key] = key === 'folder' ? params.getAll(key) : params.get(key);
      return out;
    };

    const serverInfo = (ctx: RequestContext): ServerInfo => ({
      name: 'memery',
      version,
      pid: process.pid,
      url,
      socket: socketPath ?? null,
      viaSocket: ctx.viaSocket,
      watch: { enabled: Boolean(watcher), folders: watcher?.folders() ?? [], pending: watcher?.pending() ?? [], indexing: jobs.current },
    });

    const runSearch = async (query: SearchQuery, o: { n?: number; threshold?: number; folders?: string[] }): Promise<{ results: SearchResult[]; ms: number }> => {
      const t0 = performance.now();
      const results = await memery.search(query, { n: o.n, threshold: o.threshold, folders: o.folders });
      return { results, ms: Math.round((performance.now() - t0) * 100) / 100 };
    };

    // ---- routes ------------------------------------------------------------------------------

    async function route(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
      const raw = req.url ?? '/';
      if (!raw.startsWith('/') || raw.startsWith('//')) throw new HttpError(400, 'E_USAGE', 'Expected a path-only request target');
      const q = raw.indexOf('?');
      const path = q >= 0 ? raw.slice(0, q) : raw;
      const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
      const method = req.method ?? 'GET';
      const only = (m: string) => {
        if (method !== m) {
          res.setHeader('Allow', m);
          throw new HttpError(405, 'E_USAGE', `Expected ${m} for ${path} but received ${method}`);
        }
      };

      const asset = assets.get(path);
      if (asset) {
        only('GET');
        if (path === '/') {
          const html = asset.body.toString('utf8').replaceAll('__MEMERY_TOKEN__', token);
          res.writeHead(200, {
            'Content-Type': asset.type,
            'Cache-Control': 'no-store',
            'Content-Security-Policy':
              "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
          });
          res.end(html);
          return;
        }
        if (req.headers['if-none-match'] === asset.etag) {
          res.writeHead(304, { ETag: asset.etag }).end();
          return;
        }
        res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Cache-Control': 'no-cache', ETag: asset.etag });
        res.end(asset.body);
        return;
      }

      switch (path) {
        case '/api/ping': {
          only('GET');
          const body: PingResponse = { name: 'memery', version, pid: process.pid, home, url, socket: socketPath ?? null };
          sendJson(res, 200, body);
          return;
        }
        case '/api/status': {
          only('GET');
          const st = await memery.status();
          const body: StatusResponse = { ...st, server: serverInfo(ctx) };
          sendJson(res, 200, body);
          return;
        }
        case '/api/search': {
          only('POST');
          const body = SearchRequestSchema.parse(await readJson(req));
          const query = await resolveQuery(body.query, ctx);
          sendJson(res, 200, await runSearch(query, body));
          return;
        }
        case '/api/search-image': {
          only('POST');
          requireToken(ctx, req);
          const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (!type.startsWith('image/') && type !== 'application/octet-stream') {
            throw new HttpError(415, 'E_USAGE', `Expected an image body (image/* or application/octet-stream) but received ${type || 'none'}`);
          }
          const p = SearchImageParamsSchema.parse(parseSearch(params));
          const data = await readBody(req, MAX_UPLOAD_BYTES);
          const kind = sniffImageType(data.subarray(0, 32));
          if (!kind) throw new HttpError(415, 'E_DECODE', 'Expected the body to be an image (JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, HEIC or JPEG XL)');
          await mkdir(uploadDir, { recursive: true, mode: 0o700 });
          const tmp = join(uploadDir, `upload-${process.pid}-${randomBytes(8).toString('hex')}${EXTENSION_OF[kind] ?? ''}`);
          await writeFile(tmp, data, { mode: 0o600 });
          try {
            const query: SearchQueryObject = { image: tmp };
            if (p.text) query.text = p.text;
            if (p.negativeText) query.negativeText = p.negativeText;
            const neg = await resolveImageRef(p.negativeImage, ctx, 'negativeImage');
            if (neg) query.negativeImage = neg;
            sendJson(res, 200, await runSearch(query, { n: p.n, threshold: p.threshold, folders: p.folder }));
          } finally {
            await rm(tmp, { force: true });
          }
          return;
        }
        case '/api/index': {
          only('POST');
          requireToken(ctx, req);
          const { folder } = IndexRequestSchema.parse(await readJson(req));
          const abs = resolve(folder);
          const st = await stat(abs).catch(() => undefined);
          if (!st) throw new HttpError(404, 'E_NOT_FOUND', `Folder not found: ${abs}`, { hint: 'The path is read on the server\'s machine.' });
          if (!st.isDirectory()) throw new HttpError(400, 'E_USAGE', `Expected a folder but ${abs} is not a directory`);
          const abort = new AbortController();
          res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
          res.write(': queued\n\n');
          const onClose = () => {
            if (!res.writableFinished) abort.abort(new MemeryError('E_ABORTED', 'The client went away'));
          };
          res.on('close', onClose);
          let last = 0;
          try {
            const summary = await jobs.index(abs, {
              source: 'api',
              signal: abort.signal,
              onProgress: (pr) => {
                const now = Date.now();
                if (pr.phase === 'encode' && pr.done !== 0 && pr.done !== pr.total && now - last < 100) return;
                last = now;
                res.write(`event: progress\ndata: ${JSON.stringify({ folder: abs, ...pr })}\n\n`);
              },
            });
            res.end(`event: done\ndata: ${JSON.stringify(summary)}\n\n`);
          } catch (err) {
            const code = isMemeryError(err) ? err.code : 'E_INDEX';
            res.end(`event: error\ndata: ${JSON.stringify({ folder: abs, code, message: (err as Error)?.message ?? String(err) })}\n\n`);
          } finally {
            res.off('close', onClose);
          }
          return;
        }
        case '/api/forget': {
          only('POST');
          requireToken(ctx, req);
          const { folder } = ForgetRequestSchema.parse(await readJson(req));
          const abs = resolve(folder);
          const removed = await jobs.forget(abs);
          sendJson(res, 200, { folder: abs, removed });
          return;
        }
        case '/api/events': {
          only('GET');
          res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
          res.write(': connected\n\n');
          sseClients.add(res);
          const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
          res.on('close', () => {
            clearInterval(ping);
            sseClients.delete(res);
          });
          return;
        }
      }

      const segs = path.split('/');
      if (segs.length === 4 && segs[1] === 'api' && (segs[2] === 'thumb' || segs[2] === 'file')) {
        only('GET');
        const id = IdParamSchema.parse(segs[3]);
        if (segs[2] === 'thumb') {
          const { size } = ThumbParamsSchema.parse(parseSearch(params));
          const s = size ?? 256;
          const f = await servablePath(id);
          const etag = `"t${id}-${s}-${Math.round(f.mtime)}-${f.bytes}"`;
          if (req.headers['if-none-match'] === etag) {
            res.writeHead(304, { ETag: etag, 'Cache-Control': 'private, max-age=3600' }).end();
            return;
          }
          let data = thumbs.get(etag);
          if (!data) {
            data = (await memery.thumbnail(id, s)).data;
            thumbs.set(etag, data);
          }
          res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': data.length, 'Cache-Control': 'private, max-age=3600', ETag: etag });
          res.end(data);
          return;
        }
        const f = await servablePath(id);
        const fh = await open(f.real, 'r');
        let handedOff = false;
        try {
          const st = await fh.stat();
          if (!st.isFile()) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is not a regular file`);
          const head = Buffer.alloc(32);
          await fh.read(head, 0, 32, 0);
          const type = sniffImageType(head);
          if (!type) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is no longer an image`);
          const name = basename(f.path);
          const disposition = params.get('download') === '1' ? 'attachment' : 'inline';
          const etag = `"f${id}-${Math.round(st.mtimeMs)}-${st.size}"`;
          if (req.headers['if-none-match'] === etag) {
            res.writeHead(304, { ETag: etag }).end();
            return;
          }
          res.writeHead(200, {
            'Content-Type': type,
            'Content-Length': st.size,
            'Content-Disposition': `${disposition}; filename="${name.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
            'Cache-Control': 'private, max-age=60',
            'Content-Security-Policy': "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
            ETag: etag,
          });
          const stream = fh.createReadStream({ start: 0, end: Math.max(0, st.size - 1), autoClose: true });
          handedOff = true;
          stream.on('error', () => res.destroy());
          res.on('close', () => stream.destroy());
          stream.pipe(res);
        } finally {
          if (!handedOff) await fh.close();
        }
        return;
      }
      throw new HttpError(404, 'E_NOT_FOUND', `No route ${method} ${path}`);
    }

    // ---- access control ------------------------------------------------------------------------

    function admit(req: IncomingMessage, res: ServerResponse, viaSocket: boolean): RequestContext | undefined {
      if (viaSocket) return { viaSocket, tokenOk: true };
      const headerToken = req.headers[TOKEN_HEADER];
      const tokenOk = typeof headerToken === 'string' && tokenMatches(headerToken, token);
      const hostHeader = String(req.headers.host ?? '').toLowerCase();
      if (loopback) {
        if (!hosts.has(hostHeader)) {
          sendJson(res, 403, {
            error: { code: 'E_FORBIDDEN', message: `Expected Host ${[...hosts][0]} but received ${hostHeader || 'none'}`, hint: 'memery answers only to its loopback name (DNS rebinding protection).' },
          });
          return undefined;
        }
        const origin = req.headers.origin;
        if (req.method !== 'GET' && req.method !== 'HEAD' && origin !== undefined && origin !== `http://${hostHeader}`) {
          sendJson(res, 403, { error: { code: 'E_FORBIDDEN', message: `Cross-origin request from ${origin} refused` } });
          return undefined;
        }
        return { viaSocket, tokenOk };
      }
      // Remote mode: every request needs the token (header, or the cookie for the GUI's own requests).
      const cookie = /(?:^|;\s*)memery_token=([0-9a-f]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
      const raw = req.url ?? '/';
      const qs = new URLSearchParams(raw.includes('?') ? raw.slice(raw.indexOf('?') + 1) : '');
      if (req.method === 'GET' && raw.split('?')[0] === '/' && tokenMatches(qs.get('token') ?? undefined, token)) {
        res.writeHead(303, { Location: '/', 'Set-Cookie': `memery_token=${token}; HttpOnly; SameSite=Strict; Path=/`, 'Cache-Control': 'no-store' }).end();
        return undefined;
      }
      if (!tokenOk && !tokenMatches(cookie, token)) {
        sendJson(res, 401, { error: { code: 'E_AUTH', message: 'This server accepts remote connections: every request needs the token', hint: 'Open the URL printed by `memery serve` (it carries ?token=), or send X-Memery-Token.' } });
        return undefined;
      }
      return { viaSocket, tokenOk };
    }

    const handler = (viaSocket: boolean) => (req: IncomingMessage, res: ServerResponse) => {
      baseHeaders(res);
      let ctx: RequestContext | undefined;
      try {
        ctx = admit(req, res, viaSocket);
      } catch (err) {
        sendError(res, err);
        return;
      }
      if (!ctx) {
        req.resume();
        return;
      }
      route(req, res, ctx).catch((err: unknown) => {
        req.resume();
        sendError(res, err);
      });
    };

    // ---- listen --------------------------------------------------------------------------------

    const sockets = new Set<Socket>();
    const track = (s: Server) =>
      s.on('connection', (c: Socket) => {
        sockets.add(c);
        c.on('close', () => sockets.delete(c));
      });

    const tcp = track(createServer({ requestTimeout: 0, headersTimeout: 30_000 }, handler(false)));
    await new Promise<void>((resolveListen, reject) => {
      tcp.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(new MemeryError('E_USAGE', `Port ${port} on ${host} is already in use`, { hint: 'Pick another with --port (config `port`, MEMERY_PORT).', cause: err }));
        } else reject(err);
      });
      tcp.listen(port, host, () => resolveListen());
    });
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          tcp.close(() => r());
          tcp.closeAllConnections();
        }),
    );
    boundPort = (tcp.address() as AddressInfo).port;
    hosts = allowedHosts(host, boundPort);
    const guiHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    url = `http://${hostPort(guiHost, boundPort)}/` + (loopback ? '' : `?token=${token}`);

    if (opts.socket !== false) {
      const candidate = join(home, SOCKET_FILE);
      if (Buffer.byteLength(candidate) > MAX_SOCKET_PATH) {
        log(`not listening on ${candidate}: the path is longer than a Unix socket allows (${MAX_SOCKET_PATH} bytes)`);
      } else {
        try {
          unlinkSync(candidate); // stale: claimHome checked that nothing answers there
        } catch {
          /* none */
        }
        const unix = track(createServer({ requestTimeout: 0 }, handler(true)));
        const oldMask = process.umask(0o177);
        try {
          await new Promise<void>((resolveListen, reject) => {
            unix.once('error', reject);
            unix.listen(candidate, () => resolveListen());
          });
        } finally {
          process.umask(oldMask);
        }
        chmodSync(candidate, 0o600);
        socketPath = candidate;
        cleanups.push(
          () =>
            new Promise<void>((r) => {
              unix.close(() => r());
              unix.closeAllConnections();
            }),
        );
        cleanups.push(() => {
          try {
            unlinkSync(candidate);
          } catch {
            /* gone */
          }
        });
      }
    }
    cleanups.push(() => {
      for (const res of sseClients) res.end();
      sseClients.clear();
      for (const s of sockets) s.destroy();
    });
    claim.update({ url, socket: socketPath ?? null, startedAt: Date.now() });
    cleanups.push(() => rm(uploadDir, { recursive: true, force: true }).then(() => undefined));

    // Warm the text model so that the first query is fast (errors surface on the first search).
    const warm = memery.embedQuery('a photo').then(
      () => undefined,
      () => undefined,
    );
    cleanups.push(() => warm);

    if (watcher) {
      cleanups.push(() => watcher.close());
      const folders = new Set([...memery.folders().map((f) => f.path), ...memery.config.folders.map((f) => resolve(f))]);
      for (const f of folders) {
        if (!existsSync(f)) {
          log(`not watching ${f}: it does not exist`);
          continue;
        }
        await watcher.add(f);
        // Catch up with changes made while no server watched; index config folders not yet indexed.
        jobs.requestIndex(f);
      }
    }

    if (opts.open) openBrowser(url);

    let closing: Promise<void> | undefined;
    return {
      url,
      port: boundPort,
      host,
      ...(socketPath ? { socketPath } : {}),
      token,
      home,
      memery,
      close: () => (closing ??= cleanup()),
    };
  }
}

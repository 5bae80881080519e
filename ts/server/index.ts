/**
 * `memery serve`: one process per catalog that keeps the model and the index warm and answers the
 * CLI, the launchers and the web GUI over HTTP, on 127.0.0.1 (default port 7627, config `port`,
 * MEMERY_PORT) and on the Unix socket `<home>/memery.sock` (mode 0600).
 *
 * Endpoints (JSON unless noted; schemas in ./api-schemas.ts). Over TCP every one of them, the page
 * and its assets included, needs the token (see the safety rules); over the socket none does.
 *   GET  /                      the web GUI; /app.js, /app.css, /favicon.svg
 *   GET  /?token=<token>        303 to / with the token cookie (the URL `serve` prints and --open opens)
 *   GET  /api/ping              {name: 'memery', version, pid, home, url, socket} (cheap identity check)
 *   GET  /api/status            library status + server info
 *   POST /api/search            {query, n?, threshold?, folders?} -> {results, ms}
 *   POST /api/search-image      raw image body (<= 32 MiB) + query-string options -> {results, ms}
 *   POST /api/index             {folder} -> text/event-stream: progress..., done | error
 *   POST /api/forget            {folder} -> {folder, removed}
 *   GET  /api/events            text/event-stream of every job: progress, done, error, forgotten, changed
 *   GET  /api/thumb/:id?size=   JPEG thumbnail of a catalog file (default 256 px)
 *   GET  /api/file/:id          the image itself (?download=1 for an attachment)
 *
 * Safety rules:
 *  - Over TCP (loopback included: on a shared machine every local account can connect to it)
 *    every request needs the per-install token, as Jupyter does: the header
 *    `X-Memery-Token: <token>` (the CLI's TCP fallback) or the cookie `memery_session_<port>`
 *    (HttpOnly, SameSite=Strict, Path=/; the port keeps two servers apart), which the owner gets by
 *    opening the `http://127.0.0.1:<port>/?token=<token>` URL that `memery serve` prints and
 *    `--open` opens (a 303 to `/` sets it). The cookie holds a random key of this server run, not
 *    the token: 127.0.0.1's cookies go to all its ports, so a page on another local port could see
 *    it; it then reveals no token and dies with the server (the owner opens the URL again). No credentials -> 401; the page then is a short note
 *    on how to get in that names no token, path, folder or count. A wrong header -> 403. The cookie
 *    is ignored on requests a browser marks as coming from another site (Sec-Fetch-Site), so a page
 *    on another local port cannot use it. The token lives in `<home>/server-token` (mode 0600);
 *    the GUI page never contains it. Refused TCP requests get `Connection: close`, so a client
 *    without the token cannot hold a connection open by trickling a body.
 *  - Over TCP the Host header must also be a loopback name with the listening port (DNS
 *    rebinding), a POST's Origin (when sent) must be that same origin, JSON bodies must be
 *    application/json, and no CORS headers are ever sent. Image queries over TCP must be `id:<n>`
 *    (or an upload), never server paths.
 *  - The Unix socket needs no token and no Host check: its mode (0600) admits only the owner, who
 *    can read the token file anyway. Image queries over the socket may name any local path.
 *  - A non-loopback host needs `allowRemote`; the token rules are the same, and the Host check is
 *    left to the token.
 *  - Files are named by catalog id only; there is no path parameter anywhere, and routes are
 *    matched exactly. A file is opened once (by its catalog path, O_NONBLOCK) and then what was
 *    opened is checked: a regular file whose real path (Linux: the kernel's name for the open
 *    descriptor; elsewhere realpath, with the same device and inode as the descriptor) lies inside
 *    the real path of a catalog folder, with image bytes. Only that descriptor is read, for the file
 *    and for its thumbnail (made from the bytes), so a symlink swapped between the check and the
 *    read cannot redirect either.
 *  - Load: a request must arrive whole (headers and body) within `requestTimeoutMs` (30 s; headers
 *    within 20 s), or its connection is closed, and an aborted body is logged as one line. Over
 *    TCP one remote address may hold `maxConnectionsPerPeer` (64) connections; more are answered
 *    503 and closed at once. (Every local account is 127.0.0.1, so one can still crowd the GUI's
 *    TCP port; the socket, used by the CLI and launchers, is not shared.)
 *  - Uploads go to `<home>/tmp` (0700) and are deleted after the search.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, existsSync, mkdirSync, unlinkSync, chmodSync, statSync, type Stats } from 'node:fs';
import { mkdir, open, readlink, realpath, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { Memery } from '../api/memery.js';
import type { MemeryOptions, SearchQuery, SearchQueryObject, SearchResult } from '../api/schemas.js';
import { defaultHome } from '../config/load.js';
import { acquireLock } from '../catalog/lock.js';
import { isMemeryError, MemeryError } from '../errors.js';
import { thumbnail } from '../native/image-ops.js';
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
  /** Longest time a request (headers and body) may take to arrive, ms (default 30 000). */
  requestTimeoutMs?: number;
  /** Longest time its headers may take, ms (default 20 000, at most requestTimeoutMs). */
  headersTimeoutMs?: number;
  /** Most TCP connections one remote address may hold open (default 64); more are refused at once. */
  maxConnectionsPerPeer?: number;
  /** With watch: how often the catalog is checked for folders indexed by other processes, ms (default 2 000). */
  catalogPollMs?: number;
}

export interface RunningServer {
  /** GUI URL, with `?token=`: opening it sets the token cookie (print it only to the owner). */
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
}

/** The client went away (or was cut off by the request timeout) before its body had arrived. */
class ClientGone extends Error {}

/** Bytes of an image read whole to make its thumbnail. */
const MAX_THUMB_SOURCE_BYTES = 256 * 1024 * 1024;

/** The page answered over TCP without the token: how to get in, and nothing else. */
const SIGN_IN_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>memery: token needed</title></head>
<body>
<h1>memery needs its token</h1>
<p>This memery server only answers its owner. To open the search page:</p>
<ul>
<li>run <code>memery serve --open</code> (when a server is already running it opens that one), or</li>
<li>open the address <code>memery serve</code> printed when it started: it ends in <code>?token=</code>&hellip;, or</li>
<li>read the token from the file <code>server-token</code> in memery's home folder (<code>MEMERY_HOME</code>) and open this page with <code>/?token=</code> and the token after it.</li>
</ul>
</body>
</html>
`;

/** The path of what `fh` has open: on Linux the kernel's own name for it; elsewhere realpath of `path`. */
async function openedPath(fh: FileHandle, path: string): Promise<string | undefined> {
  if (process.platform === 'linux') {
    const p = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
    if (p !== undefined) return isAbsolute(p) && !p.endsWith(' (deleted)') ? p : undefined;
  }
  return realpath(path).catch(() => undefined);
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
    /** The GUI URL with the token (printed, opened) and without it (status, ping, server.json). */
    let url = '';
    let baseUrl = '';
    let cookieName = 'memery_session';
    /**
     * The cookie's value: a random session key of this server run, not the token itself. Browsers
     * send 127.0.0.1's cookies to every port of it, so a page served by someone else on another
     * local port that the owner opens could see it; it then neither reveals the token file nor
     * outlives this server.
     */
    const session = randomBytes(32).toString('hex');
    const requestTimeout = opts.requestTimeoutMs ?? 30_000;
    const maxPerPeer = opts.maxConnectionsPerPeer ?? 64;
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
    jobs.on('locked', (l) => {
      if (l.attempt === 0) log(`indexing ${l.folder} waits for another memery process to finish (${l.message}); trying again until the index lock is free`);
    });
    jobs.on('forgotten', (f) => broadcast('forgotten', f));
    jobs.on('changed', () => broadcast('changed', {}));
    jobs.on('done', (d) => void watcher?.add(d.folder));
    jobs.on('forgotten', (f) => void watcher?.remove(f.folder));

    /**
     * Opens catalog file `id` once and checks what was opened: an `ok` catalog file, a regular file,
     * whose real path lies inside the real path of a catalog folder (its own). The caller reads only
     * from the returned handle (so a symlink swapped after the check changes nothing) and closes it.
     */
    async function openServable(id: number): Promise<{ fh: FileHandle; path: string; real: string; st: Stats }> {
      const f = memery.file(id);
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
        const inside = (folders: Array<{ path: string; real: string }>) => folders.some((d) => under(f.path, d.path) && under(real, d.real));
        let ok = inside(folderCache?.folders ?? (await refreshFolders()));
        if (!ok && folderCache && Date.now() - folderCache.at > 2_000) ok = inside(await refreshFolders());
        if (!ok) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is not served: it resolves outside the indexed folders`);
        return { fh, path: f.path, real, st };
      } catch (err) {
        await fh.close();
        throw err;
      }
    }

    /** Maps `id:<n>` image references to catalog paths; other paths only over the socket. */
    async function resolveImageRef(value: string | undefined, ctx: RequestContext, field: string): Promise<string | undefined> {
      if (value === undefined) return undefined;
      const m = /^id:(\d+)$/.exec(value);
      if (m) {
        const o = await openServable(Number(m[1]));
        await o.fh.close();
        return o.path;
      }
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
        const t0 = Date.now();
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
        const gone = () => {
          const ms = Date.now() - t0;
          const of = Number.isFinite(declared) ? ` of ${declared}` : '';
          const timedOut = (req.socket as Socket & { errored?: { code?: string } | null }).errored?.code === 'ERR_HTTP_REQUEST_TIMEOUT' || ms >= requestTimeout;
          const why = timedOut ? `it took longer than ${requestTimeout / 1000} s` : 'the client closed the connection';
          reject(new ClientGone(`${req.method} ${(req.url ?? '/').split('?')[0]}: request body aborted after ${(ms / 1000).toFixed(1)} s, ${size}${of} bytes received (${why})`));
        };
        req.on('error', gone);
        req.on('close', () => {
          if (!req.complete) gone();
        });
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

    const parseSearch = (params: URLSearchParams): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const key of new Set(params.keys())) out[key] = key === 'folder' ? params.getAll(key) : params.get(key);
      return out;
    };

    const serverInfo = (ctx: RequestContext): ServerInfo => ({
      name: 'memery',
      version,
      pid: process.pid,
      url: baseUrl,
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
          const html = asset.body;
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
          const body: PingResponse = { name: 'memery', version, pid: process.pid, home, url: baseUrl, socket: socketPath ?? null };
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
          let answer: Awaited<ReturnType<typeof runSearch>>;
          try {
            const query: SearchQueryObject = { image: tmp };
            if (p.text) query.text = p.text;
            if (p.negativeText) query.negativeText = p.negativeText;
            const neg = await resolveImageRef(p.negativeImage, ctx, 'negativeImage');
            if (neg) query.negativeImage = neg;
            answer = await runSearch(query, { n: p.n, threshold: p.threshold, folders: p.folder });
          } finally {
            await rm(tmp, { force: true }); // before answering: the upload is gone once the client has its results
          }
          sendJson(res, 200, answer);
          return;
        }
        case '/api/index': {
          only('POST');
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
        const s = segs[2] === 'thumb' ? (ThumbParamsSchema.parse(parseSearch(params)).size ?? 256) : 0;
        const o = await openServable(id);
        const { st } = o;
        let handedOff = false;
        try {
          if (segs[2] === 'thumb') {
            // Keyed by what was opened (device, inode, mtime, size), not by what the catalog says.
            const etag = `"t${id}-${s}-${st.dev}-${st.ino}-${Math.round(st.mtimeMs)}-${st.size}"`;
            if (req.headers['if-none-match'] === etag) {
              res.writeHead(304, { ETag: etag, 'Cache-Control': 'private, max-age=3600' }).end();
              return;
            }
            let data = thumbs.get(etag);
            if (!data) {
              if (st.size > MAX_THUMB_SOURCE_BYTES) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is too large for a thumbnail`);
              const bytes = await o.fh.readFile();
              if (!sniffImageType(bytes.subarray(0, 32))) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is no longer an image`);
              // Made from the bytes read from the checked descriptor, never from a path opened again.
              data = (await thumbnail(bytes, { size: s, format: 'jpeg' })).data;
              thumbs.set(etag, data);
            }
            res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': data.length, 'Cache-Control': 'private, max-age=3600', ETag: etag });
            res.end(data);
            return;
          }
          const head = Buffer.alloc(32);
          await o.fh.read(head, 0, 32, 0);
          const type = sniffImageType(head);
          if (!type) throw new HttpError(404, 'E_NOT_FOUND', `Catalog file ${id} is no longer an image`);
          const name = basename(o.path);
          const disposition = params.get('download') === '1' ? 'attachment' : 'inline';
          const etag = `"f${id}-${st.dev}-${st.ino}-${Math.round(st.mtimeMs)}-${st.size}"`;
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
        return;
      }
      throw new HttpError(404, 'E_NOT_FOUND', `No route ${method} ${path}`);
    }

    // ---- access control ------------------------------------------------------------------------

    /** Refuses a TCP request and closes its connection once answered (no body is waited for). */
    const refuse = (res: ServerResponse, status: number, code: string, message: string, hint?: string) => {
      res.setHeader('Connection', 'close');
      sendJson(res, status, { error: { code, message, ...(hint ? { hint } : {}) } });
    };

    /** The value of cookie `name`, if sent. */
    const cookieValue = (req: IncomingMessage, name: string): string | undefined => {
      for (const part of String(req.headers.cookie ?? '').split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
      }
      return undefined;
    };

    function admit(req: IncomingMessage, res: ServerResponse, viaSocket: boolean): RequestContext | undefined {
      if (viaSocket) return { viaSocket };
      const hostHeader = String(req.headers.host ?? '').toLowerCase();
      if (loopback && !hosts.has(hostHeader)) {
        refuse(res, 403, 'E_FORBIDDEN', `Expected Host ${[...hosts][0]} but received ${hostHeader || 'none'}`, 'memery answers only to its loopback name (DNS rebinding protection).');
        return undefined;
      }
      const origin = req.headers.origin;
      if (req.method !== 'GET' && req.method !== 'HEAD' && origin !== undefined && origin !== `http://${hostHeader}`) {
        refuse(res, 403, 'E_FORBIDDEN', `Cross-origin request from ${origin} refused`);
        return undefined;
      }
      const raw = req.url ?? '/';
      const q = raw.indexOf('?');
      const path = q >= 0 ? raw.slice(0, q) : raw;
      // The URL `serve` prints: trade the token for the cookie, and drop it from the address bar.
      if (req.method === 'GET' && path === '/' && q >= 0) {
        const presented = new URLSearchParams(raw.slice(q + 1)).get('token') ?? undefined;
        if (tokenMatches(presented, token)) {
          res.writeHead(303, {
            Location: '/',
            'Set-Cookie': `${cookieName}=${session}; HttpOnly; SameSite=Strict; Path=/`,
            'Cache-Control': 'no-store',
            'Content-Length': 0,
          });
          res.end();
          return undefined;
        }
      }
      const header = req.headers[TOKEN_HEADER];
      if (typeof header === 'string' && header !== '') {
        if (tokenMatches(header, token)) return { viaSocket };
        refuse(res, 403, 'E_AUTH', `Wrong ${TOKEN_HEADER}`);
        return undefined;
      }
      // The cookie, unless the browser says the request comes from another site (another local port
      // is the same "site" for SameSite, but not for Sec-Fetch-Site).
      const fetchSite = req.headers['sec-fetch-site'];
      const cookieOk = fetchSite === undefined || fetchSite === 'same-origin' || fetchSite === 'none';
      if (cookieOk && tokenMatches(cookieValue(req, cookieName), session)) return { viaSocket };
      if (req.method === 'GET' && path === '/') {
        const page = Buffer.from(SIGN_IN_PAGE);
        res.writeHead(401, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Length': page.length,
          'Cache-Control': 'no-store',
          'Content-Security-Policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
          Connection: 'close',
        });
        res.end(page);
        return undefined;
      }
      refuse(
        res,
        401,
        'E_AUTH',
        `Every request over TCP needs the memery token (the ${TOKEN_HEADER} header, or the cookie set by opening the URL that \`memery serve\` prints)`,
        "Run `memery serve --open`, or open the URL it prints (it ends in ?token=); the token is in the file server-token in memery's home folder.",
      );
      return undefined;
    }

    /** TCP connections over the per-peer cap: answered 503 at once, nothing they send is handled. */
    const refusedSockets = new WeakSet<Socket>();

    const handler = (viaSocket: boolean) => (req: IncomingMessage, res: ServerResponse) => {
      if (refusedSockets.has(req.socket)) {
        req.socket.destroy();
        return;
      }
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
        if (err instanceof ClientGone) {
          log(err.message);
          res.destroy();
          return;
        }
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

    // A request must arrive whole within requestTimeout (Node answers 408 and closes otherwise).
    const timeouts = {
      requestTimeout,
      headersTimeout: Math.min(opts.headersTimeoutMs ?? 20_000, requestTimeout),
      connectionsCheckingInterval: Math.max(25, Math.min(5_000, Math.floor(Math.min(opts.headersTimeoutMs ?? 20_000, requestTimeout) / 4))),
    };
    const tcp = track(createServer(timeouts, handler(false)));
    // At most maxPerPeer connections per remote address; more are answered 503 and closed at once.
    const perPeer = new Map<string, number>();
    const lastRefusalLog = new Map<string, number>();
    tcp.on('connection', (c: Socket) => {
      const peer = c.remoteAddress ?? 'unknown';
      const open = perPeer.get(peer) ?? 0;
      if (open >= maxPerPeer) {
        const now = Date.now();
        if (now - (lastRefusalLog.get(peer) ?? 0) > 60_000) {
          lastRefusalLog.set(peer, now);
          log(`refusing connections from ${peer}: it already holds ${open} (the most one address may hold)`);
        }
        c.on('error', () => {});
        refusedSockets.add(c);
        c.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\nToo many connections\n', () => c.destroy());
        return;
      }
      perPeer.set(peer, open + 1);
      c.once('close', () => {
        const left = (perPeer.get(peer) ?? 1) - 1;
        if (left > 0) perPeer.set(peer, left);
        else perPeer.delete(peer);
      });
    });
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
    cookieName = `memery_session_${boundPort}`;
    baseUrl = `http://${hostPort(guiHost, boundPort)}/`;
    url = `${baseUrl}?token=${token}`;

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
        const unix = track(createServer(timeouts, handler(true)));
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
    claim.update({ url: baseUrl, socket: socketPath ?? null, startedAt: Date.now() });
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
      // Folders indexed (or forgotten) by another process while this server runs: the catalog's
      // files are checked every catalogPollMs, and its folder list is read again when they changed
      // and nobody holds the index lock (so not on every poll of a long `memery index` run).
      const configFolders = new Set(memery.config.folders.map((f) => resolve(f)));
      const known = new Set(folders);
      const catalogFile = join(home, 'catalog.db');
      const signature = () =>
        [catalogFile, `${catalogFile}-wal`]
          .map((f) => {
            try {
              const st = statSync(f);
              return `${st.mtimeMs}:${st.size}:${st.ino}`;
            } catch {
              return '-';
            }
          })
          .join('|');
      let seen = signature();
      let syncing = false;
      const sync = async () => {
        if (syncing || jobs.current) return; // our own runs add their folders when done
        const now = signature();
        if (now === seen) return;
        syncing = true;
        try {
          const release = await acquireLock(join(home, 'index.lock'), 0).catch(() => undefined);
          if (!release) return; // another process is indexing: read the list once it has finished
          release();
          seen = now;
          const inCatalog = new Set(memery.folders().map((f) => f.path));
          for (const f of inCatalog) {
            if (known.has(f) || !existsSync(f)) continue;
            known.add(f);
            log(`watching ${f}: indexed by another process`);
            await watcher.add(f);
            jobs.requestIndex(f); // what changed between that run and this watch
          }
          for (const f of [...known]) {
            if (inCatalog.has(f) || configFolders.has(f)) continue;
            known.delete(f);
            await watcher.remove(f);
          }
        } catch (err) {
          log(`checking the catalog for new folders: ${(err as Error).message}`);
        } finally {
          syncing = false;
        }
      };
      jobs.on('done', (d) => known.add(d.folder));
      jobs.on('forgotten', (f) => known.delete(f.folder));
      const poll = setInterval(() => void sync(), opts.catalogPollMs ?? 2_000);
      poll.unref();
      cleanups.push(() => clearInterval(poll));
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

/**
 * `memery serve`: one process per catalog that keeps the model and the index warm and answers the
 * CLI, the launchers and the web GUI over HTTP, on 127.0.0.1 (default port 7627, config `port`,
 * MEMERY_PORT) and on the Unix socket `<home>/memery.sock` (mode 0600).
 *
 * Endpoints (JSON unless noted; routes, schemas, events and error codes in @memery/client, i.e.
 * packages/client; the handlers in ./routes.ts). Over TCP every one of them, the page
 * and its assets included, needs the token (see the safety rules); over the socket none does.
 *   GET  /                      the web GUI; /app.js, /app.css, /favicon.svg, /client.js (the protocol module)
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
 *    the real path of a catalog folder, with image bytes. Only that descriptor is read, so a
 *    symlink swapped between the check and the read cannot redirect it. A thumbnail is served from
 *    the store (ts/catalog/thumbnails.ts) when the catalog's size and mtime match the descriptor's
 *    (the indexer's own "unchanged" rule), else made from the descriptor's bytes.
 *  - Load: a request must arrive whole (headers and body) within `requestTimeoutMs` (30 s; headers
 *    within 20 s), or its connection is closed, and an aborted body is logged as one line. Over
 *    TCP one remote address may hold `maxConnectionsPerPeer` (64) connections; more are answered
 *    503 and closed at once. (Every local account is 127.0.0.1, so one can still crowd the GUI's
 *    TCP port; the socket, used by the CLI and launchers, is not shared.)
 *  - Uploads go to `<home>/tmp` (0700) and are deleted after the search.
 *
 * Files: access.ts (the gate), http.ts (answers, bodies), routes.ts (the route table), files.ts
 * (files and thumbnails), events.ts (event streams), listen.ts (TCP and socket), follow.ts (what
 * --watch watches), instance.ts (one server per home), jobs.ts (the write queue).
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { DEFAULT_PORT, SOCKET_FILE } from '@memery/client/protocol';
import { Memery } from '../api/memery.js';
import type { MemeryOptions } from '../api/schemas.js';
import { defaultHome } from '../config/load.js';
import { MemeryError } from '../errors.js';
import { createGate } from './access.js';
import { loadAssets, packageVersion } from './assets.js';
import { EventHub } from './events.js';
import { FileServer } from './files.js';
import { followFolders } from './follow.js';
import { ClientGone, baseHeaders, sendError } from './http.js';
import { claimHome } from './instance.js';
import { JobQueue } from './jobs.js';
import { listen } from './listen.js';
import { openBrowser } from './open-browser.js';
import { route, type ServerContext } from './routes.js';
import { allowedHosts, hostPort, isLoopbackHost, loadOrCreateToken } from './security.js';
import { FolderWatcher } from './watch.js';

export { DEFAULT_PORT } from '@memery/client/protocol';

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
    const jobs = new JobQueue(memery);
    cleanups.push(() => jobs.close());
    const files = new FileServer(memery);
    jobs.on('changed', () => files.invalidate());
    const events = new EventHub(jobs, log);
    jobs.on('locked', (l) => {
      if (l.attempt === 0) log(`indexing ${l.folder} waits for another memery process to finish (${l.message}); trying again until the index lock is free`);
    });
    const watcher = (opts.watch ?? memery.config.watch)
      ? new FolderWatcher({ debounceMs: opts.watchDebounceMs ?? 500, onSettled: (f) => jobs.requestIndex(f), log })
      : undefined;
    const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    /** The GUI URL without the token (status, ping, server.json), and the socket, once listening. */
    let where = { url: '', socket: null as string | null };
    const ctx: ServerContext = {
      home,
      version: packageVersion(),
      memery,
      jobs,
      events,
      files,
      watcher,
      assets: loadAssets(),
      uploadDir: join(home, 'tmp'),
      requestTimeoutMs,
      where: () => where,
    };
    const gate = createGate(token, loopback);

    const handler = (viaSocket: boolean) => (req: IncomingMessage, res: ServerResponse) => {
      if (listening?.refused(req.socket)) {
        req.socket.destroy();
        return;
      }
      baseHeaders(res);
      let admitted: boolean;
      try {
        admitted = gate.admit(req, res, viaSocket);
      } catch (err) {
        sendError(res, err, log);
        return;
      }
      if (!admitted) {
        req.resume();
        return;
      }
      route(ctx, req, res, viaSocket).catch((err: unknown) => {
        req.resume();
        if (err instanceof ClientGone) {
          log(err.message);
          res.destroy();
          return;
        }
        sendError(res, err, log);
      });
    };

    let listening: Awaited<ReturnType<typeof listen>> | undefined;
    listening = await listen(handler, {
      port: opts.port ?? memery.config.port ?? DEFAULT_PORT,
      host,
      socketPath: opts.socket === false ? undefined : join(home, SOCKET_FILE),
      requestTimeoutMs,
      headersTimeoutMs: opts.headersTimeoutMs ?? 20_000,
      maxConnectionsPerPeer: opts.maxConnectionsPerPeer ?? 64,
      log,
    });
    const { port, socketPath } = listening;
    const stop = listening;
    cleanups.push(() => {
      events.close();
      return stop.close();
    });
    gate.listening(allowedHosts(host, port), port);
    const guiHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    const baseUrl = `http://${hostPort(guiHost, port)}/`;
    const url = `${baseUrl}?token=${token}`;
    where = { url: baseUrl, socket: socketPath ?? null };
    claim.update({ url: baseUrl, socket: socketPath ?? null, startedAt: Date.now() });
    cleanups.push(() => rm(ctx.uploadDir, { recursive: true, force: true }).then(() => undefined));

    // Warm the text model so that the first query is fast (errors surface on the first search).
    const warm = memery.embedQuery('a photo').then(
      () => undefined,
      () => undefined,
    );
    cleanups.push(() => warm);

    if (watcher) {
      cleanups.push(() => watcher.close());
      cleanups.push(await followFolders({ home, memery, jobs, watcher, pollMs: opts.catalogPollMs ?? 2_000, log }));
    }

    if (opts.open) openBrowser(url);

    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      host,
      ...(socketPath ? { socketPath } : {}),
      token,
      home,
      memery,
      close: () => (closing ??= cleanup()),
    };
  }
}

/**
 * A client of a running `memery serve`, for the CLI and the launchers: `findServer(home)` connects
 * over the Unix socket (no token needed) or, failing that, over TCP with the token from
 * `<home>/server-token`, and checks that the server is a memery server of that home.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { isAbsolute, join, resolve } from 'node:path';
import type { z } from 'zod';
import type { IndexProgress, IndexSummary, SearchOptions, SearchQuery, SearchResult } from '../api/schemas.js';
import { IndexSummarySchema } from '../api/schemas.js';
import { ERROR_CODES, MemeryError, type ErrorCode } from '../errors.js';
import {
  ErrorBodySchema,
  ForgetResponseSchema,
  IndexErrorEventSchema,
  IndexProgressEventSchema,
  PingResponseSchema,
  SearchResponseSchema,
  StatusResponseSchema,
  TOKEN_HEADER,
  type IndexProgressEvent,
  type PingResponse,
  type StatusResponse,
} from './api-schemas.js';
import { readServerFile, SOCKET_FILE } from './instance.js';
import { TOKEN_FILE } from './security.js';

export interface ServerClientOptions {
  /** Unix socket path (preferred). */
  socketPath?: string;
  /** Base URL for TCP, e.g. http://127.0.0.1:7627/ */
  url?: string;
  /** The server's token: over TCP every request needs it (sent as X-Memery-Token). */
  token?: string;
  /** Per-request timeout, ms (default none; index runs can be long). */
  timeoutMs?: number;
}

/** An error answered by the server: a MemeryError with the HTTP status. */
export interface ServerError extends MemeryError {
  status?: number;
}

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

function toMemeryError(status: number, body: Buffer): ServerError {
  let parsed: z.infer<typeof ErrorBodySchema> | undefined;
  try {
    const r = ErrorBodySchema.safeParse(JSON.parse(body.toString('utf8')));
    if (r.success) parsed = r.data;
  } catch {
    /* not JSON */
  }
  const code: ErrorCode = parsed && (ERROR_CODES as readonly string[]).includes(parsed.error.code) ? (parsed.error.code as ErrorCode) : 'E_USAGE';
  const err = new MemeryError(code, parsed?.error.message ?? `The memery server answered HTTP ${status}`, {
    ...(parsed?.error.hint ? { hint: parsed.error.hint } : {}),
  }) as ServerError;
  err.status = status;
  return err;
}

/** Parses a text/event-stream body incrementally; calls `onEvent` per event. */
export function sseParser(onEvent: (event: string, data: string) => void): (chunk: string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk.replace(/\r\n?/g, '\n');
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length) onEvent(event, data.join('\n'));
    }
  };
}

export class ServerClient {
  readonly socketPath: string | undefined;
  readonly url: string | undefined;
  readonly #token: string | undefined;
  readonly #agent = new Agent({ keepAlive: true });
  readonly #timeoutMs: number | undefined;
  readonly #host: string | undefined;

  constructor(opts: ServerClientOptions) {
    if (!opts.socketPath && !opts.url) throw new MemeryError('E_USAGE', 'Expected socketPath or url for a ServerClient');
    this.socketPath = opts.socketPath;
    this.url = opts.url;
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs;
    if (!opts.socketPath && opts.url) this.#host = new URL(opts.url).host;
  }

  /** Sends one request; resolves with the response stream (any status). */
  #send(method: string, path: string, opts: { body?: Buffer; type?: string; token?: boolean } = {}): Promise<IncomingMessage> {
    const headers: Record<string, string | number> = { Accept: 'application/json, text/event-stream' };
    if (opts.body) {
      headers['Content-Type'] = opts.type ?? 'application/json';
      headers['Content-Length'] = opts.body.length;
    }
    if (this.#token && !this.socketPath) headers[TOKEN_HEADER] = this.#token;
    const target = this.socketPath
      ? { socketPath: this.socketPath, path, headers: { ...headers, Host: 'localhost' } }
      : (() => {
          const u = new URL(path, this.url);
          return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port, path: u.pathname + u.search, headers: { ...headers, Host: this.#host! } };
        })();
    return new Promise((resolveReq, reject) => {
      const req = request({ ...target, method, agent: this.#agent, timeout: this.#timeoutMs }, resolveReq);
      req.on('timeout', () => req.destroy(new MemeryError('E_IO', `The memery server did not answer ${method} ${path} in time`)));
      req.on('error', (err) => {
        if (err instanceof MemeryError) reject(err);
        else {
          reject(
            new MemeryError('E_IO', `Cannot reach the memery server at ${this.socketPath ?? this.url}: ${err.message}`, {
              cause: err,
              hint: 'Is `memery serve` still running?',
            }),
          );
        }
      });
      req.end(opts.body);
    });
  }

  async #call(method: string, path: string, opts: { body?: Buffer; type?: string } = {}): Promise<Reply> {
    const res = await this.#send(method, path, opts);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const reply = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
    if (reply.status >= 400) throw toMemeryError(reply.status, reply.body);
    return reply;
  }

  async #json<T>(schema: z.ZodType<T>, method: string, path: string, body?: unknown): Promise<T> {
    const reply = await this.#call(method, path, body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)) });
    const r = schema.safeParse(JSON.parse(reply.body.toString('utf8')));
    if (!r.success) throw new MemeryError('E_USAGE', `Unexpected answer from the memery server to ${method} ${path}: ${r.error.issues[0]?.message}`);
    return r.data;
  }

  /** The server's identity (cheap: no model load, no catalog scan). */
  ping(): Promise<PingResponse> {
    return this.#json(PingResponseSchema, 'GET', '/api/ping');
  }

  /** Library status plus the server's own (pid, url, watch state). */
  status(): Promise<StatusResponse> {
    return this.#json(StatusResponseSchema, 'GET', '/api/status');
  }

  /**
   * Searches the catalog. Image paths in the query are resolved against this process's working
   * directory (they are read by the server, so they must be on its machine: socket only); `id:<n>`
   * names a catalog file.
   */
  async search(query: SearchQuery, opts: SearchOptions = {}): Promise<SearchResult[]> {
    return (await this.searchTimed(query, opts)).results;
  }

  /** search() with the server-side time (ms). */
  searchTimed(query: SearchQuery, opts: SearchOptions = {}): Promise<{ results: SearchResult[]; ms: number }> {
    const abs = (p: string | undefined) => (p === undefined || /^id:\d+$/.test(p) || isAbsolute(p) ? p : resolve(p));
    const q =
      typeof query === 'string'
        ? query
        : Object.fromEntries(
            Object.entries({ ...query, image: abs(query.image), negativeImage: abs(query.negativeImage) }).filter(([, v]) => v !== undefined),
          );
    const body: Record<string, unknown> = { query: q };
    if (opts.n !== undefined) body.n = opts.n;
    if (opts.threshold !== undefined) body.threshold = opts.threshold;
    if (opts.folders !== undefined) body.folders = opts.folders.map((f) => resolve(f));
    return this.#json(SearchResponseSchema, 'POST', '/api/search', body);
  }

  /** Searches by an image given as bytes (uploaded; the server deletes it afterwards). */
  async searchImage(
    image: Uint8Array,
    opts: SearchOptions & { text?: string; negativeText?: string; negativeImage?: string; type?: string } = {},
  ): Promise<SearchResult[]> {
    const p = new URLSearchParams();
    if (opts.n !== undefined) p.set('n', String(opts.n));
    if (opts.threshold !== undefined) p.set('threshold', String(opts.threshold));
    for (const f of opts.folders ?? []) p.append('folder', resolve(f));
    if (opts.text) p.set('text', opts.text);
    if (opts.negativeText) p.set('negativeText', opts.negativeText);
    if (opts.negativeImage) p.set('negativeImage', opts.negativeImage);
    const qs = p.toString();
    const reply = await this.#call('POST', `/api/search-image${qs ? `?${qs}` : ''}`, {
      body: Buffer.from(image.buffer, image.byteOffset, image.byteLength),
      type: opts.type ?? 'application/octet-stream',
    });
    return SearchResponseSchema.parse(JSON.parse(reply.body.toString('utf8'))).results;
  }

  /** Indexes `folder` (resolved here) on the server, reporting progress; resolves with the summary. */
  async index(folder: string, onProgress?: (p: IndexProgress & { folder: string }) => void): Promise<IndexSummary> {
    const res = await this.#send('POST', '/api/index', { body: Buffer.from(JSON.stringify({ folder: resolve(folder) })) });
    if ((res.statusCode ?? 0) >= 400) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw toMemeryError(res.statusCode ?? 0, Buffer.concat(chunks));
    }
    let summary: IndexSummary | undefined;
    let failure: MemeryError | undefined;
    const feed = sseParser((event, data) => {
      const value = JSON.parse(data) as unknown;
      if (event === 'progress') {
        const p: IndexProgressEvent = IndexProgressEventSchema.parse(value);
        onProgress?.(p);
      } else if (event === 'done') summary = IndexSummarySchema.parse(value);
      else if (event === 'error') {
        const e = IndexErrorEventSchema.parse(value);
        const code = (ERROR_CODES as readonly string[]).includes(e.code) ? (e.code as ErrorCode) : 'E_INDEX';
        failure = new MemeryError(code, e.message, { path: e.folder });
      }
    });
    res.setEncoding('utf8');
    for await (const chunk of res) feed(chunk as string);
    if (failure) throw failure;
    if (!summary) throw new MemeryError('E_IO', 'The memery server closed the index stream without a result');
    return summary;
  }

  /** Removes a folder from the catalog; resolves with the number of files removed. */
  async forget(folder: string): Promise<number> {
    return (await this.#json(ForgetResponseSchema, 'POST', '/api/forget', { folder: resolve(folder) })).removed;
  }

  /** JPEG thumbnail bytes of catalog file `id`. */
  async thumbnail(id: number, size?: number): Promise<Buffer> {
    return (await this.#call('GET', `/api/thumb/${id}${size ? `?size=${size}` : ''}`)).body;
  }

  /** The image file of catalog file `id`. */
  async file(id: number): Promise<{ data: Buffer; contentType: string }> {
    const r = await this.#call('GET', `/api/file/${id}`);
    return { data: r.body, contentType: String(r.headers['content-type'] ?? 'application/octet-stream') };
  }

  close(): void {
    this.#agent.destroy();
  }
}

function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  return real(a) === real(b);
}

/**
 * The memery server running for `home`, or undefined when none answers. Tries the Unix socket,
 * then the URL in `<home>/server.json` with the token; checks (GET /api/ping, the cheap
 * sibling of /api/status) that it is a memery server of this home.
 */
export async function findServer(home: string, opts: { timeoutMs?: number } = {}): Promise<ServerClient | undefined> {
  const abs = resolve(home);
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const candidates: ServerClientOptions[] = [];
  const info = readServerFile(abs);
  const sock = info?.socket ?? join(abs, SOCKET_FILE);
  if (existsSync(sock)) candidates.push({ socketPath: sock });
  if (info?.url) {
    let token: string | undefined;
    try {
      token = readFileSync(join(abs, TOKEN_FILE), 'utf8').trim();
    } catch {
      token = undefined;
    }
    candidates.push({ url: new URL('/', info.url).toString(), ...(token ? { token } : {}) });
  }
  for (const c of candidates) {
    const probe = new ServerClient({ ...c, timeoutMs });
    try {
      const hello = await probe.ping();
      probe.close();
      if (hello.name === 'memery' && samePath(hello.home, abs)) return new ServerClient(c);
    } catch {
      probe.close();
    }
  }
  return undefined;
}

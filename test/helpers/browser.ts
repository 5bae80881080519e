/**
 * Fixtures for the server and browser tests: a memery server over a temp home and a folder of
 * colour images (colour-CLIP test model), raw HTTP requests (over TCP or the Unix socket, with
 * un-normalised paths and any Host header), an SSE reader, and Debian's chromium driven by
 * playwright-core.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request, type Agent, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type ServerOptions } from '../../ts/server/index.js';
import { sseParser, TOKEN_HEADER } from '@memery/client/protocol';
import { tempDir, writeColourSet } from './images.js';
import { COLOUR_HF } from './memery.js';

export interface RawReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json: <T = any>() => T;
}

export interface RawOptions {
  method?: string;
  /** Sent as is: no normalisation of `..` or percent-escapes. */
  path: string;
  /** TCP port (with host 127.0.0.1) ... */
  port?: number;
  /** ... or a Unix socket. */
  socketPath?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer | object;
  agent?: Agent;
  /** Sent as X-Memery-Token (over TCP every request needs it). */
  token?: string;
}

/** One HTTP request; a JSON `body` object is sent as application/json. Host defaults to 127.0.0.1:<port>. */
export function raw(o: RawOptions): Promise<RawReply> {
  const headers: Record<string, string | number> = {};
  let body: Buffer | undefined;
  if (o.body !== undefined) {
    if (Buffer.isBuffer(o.body)) body = o.body;
    else if (typeof o.body === 'string') body = Buffer.from(o.body);
    else {
      body = Buffer.from(JSON.stringify(o.body));
      headers['content-type'] = 'application/json';
    }
    headers['content-length'] = body.length;
  }
  if (o.port !== undefined) headers.host = `127.0.0.1:${o.port}`;
  else headers.host = 'localhost';
  if (o.token !== undefined) headers[TOKEN_HEADER] = o.token;
  Object.assign(headers, o.headers ?? {});
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...(o.socketPath ? { socketPath: o.socketPath } : { host: '127.0.0.1', port: o.port }),
        method: o.method ?? (body ? 'POST' : 'GET'),
        path: o.path,
        headers,
        setHost: false,
        agent: o.agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: b,
            text: b.toString('utf8'),
            json: () => JSON.parse(b.toString('utf8')),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Parses a whole text/event-stream body. */
export function parseSse(text: string): Array<{ event: string; data: any }> {
  const out: Array<{ event: string; data: unknown }> = [];
  sseParser((event, data) => out.push({ event, data: JSON.parse(data) }))(text);
  return out;
}

/** Collects the events of GET /api/events until stopped. */
export function listenEvents(port: number, token: string): { events: Array<{ event: string; data: any }>; stop: () => void } {
  const events: Array<{ event: string; data: unknown }> = [];
  const feed = sseParser((event, data) => events.push({ event, data: JSON.parse(data) }));
  const req = request({ host: '127.0.0.1', port, path: '/api/events', headers: { host: `127.0.0.1:${port}`, [TOKEN_HEADER]: token } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (c: string) => feed(c));
    res.on('error', () => {});
  });
  req.on('error', () => {});
  req.end();
  return { events: events as Array<{ event: string; data: any }>, stop: () => req.destroy() };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws its last error). */
export async function until<T>(check: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw last instanceof Error ? last : new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ServerFixture {
  server: RunningServer;
  home: string;
  /** Folder of colour images (red.png, green.png, ...). */
  dir: string;
  files: Record<string, string>;
  port: number;
  /** The server's token (over TCP every request needs it). */
  token: string;
  cleanup: () => Promise<void>;
}

/** A server on a temp home over a temp folder of colour images (indexed unless `index: false`). */
export async function serverFixture(opts: Partial<ServerOptions> & { index?: boolean } = {}): Promise<ServerFixture> {
  const { index, ...serverOpts } = opts;
  const home = tempDir('memery-home-');
  const dir = tempDir('memery-colours-');
  const files = await writeColourSet(dir);
  const server = await startServer({ home, port: 0, log: () => {}, ...serverOpts, memery: { modelDir: COLOUR_HF, ...serverOpts.memery } });
  if (index !== false) await server.memery.index(dir);
  const port = Number(new URL(server.url).port);
  return {
    server,
    home,
    dir,
    files,
    port,
    token: server.token,
    cleanup: async () => {
      await server.close();
      rmSync(home, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- chromium ----------------------------------------------------------------------------------

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
export const CHROMIUM = CANDIDATES.find((p): p is string => Boolean(p && existsSync(p)));
export const CHROMIUM_SKIP_REASON = 'No chromium found (looked for $CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome): browser tests skipped. Install it with `apt-get install -y chromium`.';
if (!CHROMIUM) console.warn(CHROMIUM_SKIP_REASON);

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium with a fresh user-data-dir; `close()` removes it. */
export async function launchChromium(): Promise<{ context: import('playwright-core').BrowserContext; close: () => Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(join(tmpdir(), 'memery-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM!,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

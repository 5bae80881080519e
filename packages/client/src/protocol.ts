/**
 * memery's wire protocol in one place, for the server and every client (the CLI, the web GUI, the
 * Raycast extension, the Alfred workflow): file names in memery's home, the token header and
 * cookie, environment variables, routes, event names, every error code the server or the library
 * can send, and the event-stream (SSE) format.
 *
 * No imports: this file runs in Node and, served as /client.js, in the GUI's browser page.
 */

/** The default TCP port of `memery serve` (config `port`, MEMERY_PORT). */
export const DEFAULT_PORT = 7627;

/** Environment variables that choose memery's home and the server's port. */
export const ENV_HOME = 'MEMERY_HOME';
export const ENV_PORT = 'MEMERY_PORT';

/** Files in memery's home. */
export const SOCKET_FILE = 'memery.sock';
/** The per-install token (mode 0600): needed by every TCP request. */
export const TOKEN_FILE = 'server-token';
/** Where a running server says where it listens (url, socket, pid). */
export const SERVER_FILE = 'server.json';
/** The OS lock a running server holds: one server per home. */
export const SERVER_LOCK_FILE = 'server.lock';

/** The request header carrying the token over TCP. */
export const TOKEN_HEADER = 'x-memery-token';
/** The query parameter of the URL `memery serve` prints: GET /?token=<token> sets the cookie. */
export const TOKEN_PARAM = 'token';
/** The session cookie of the server listening on `port` (the port keeps two servers apart). */
export function sessionCookieName(port: number): string {
  return `memery_session_${port}`;
}

/** Largest image accepted by POST /api/search-image. */
export const MAX_UPLOAD_BYTES = 32 * 1024 * 1024;
/** Largest JSON body accepted. */
export const MAX_JSON_BYTES = 1024 * 1024;
/** File extensions memery indexes (lower case, with the dot); the catalog walk and the launchers' file actions. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.gif', '.webp', '.tif', '.tiff', '.bmp', '.avif', '.heic', '.heif', '.jxl',
]);
/** The image formats memery reads (the files IMAGE_EXTENSIONS names), by their names for people, in the order messages list them. */
export const IMAGE_FORMAT_NAMES: readonly string[] = ['JPEG', 'PNG', 'GIF', 'WebP', 'BMP', 'TIFF', 'AVIF', 'HEIC', 'JPEG XL'];
/** IMAGE_FORMAT_NAMES worded for a sentence: "JPEG, PNG, … HEIC or JPEG XL". */
export function imageFormatList(): string {
  return `${IMAGE_FORMAT_NAMES.slice(0, -1).join(', ')} or ${IMAGE_FORMAT_NAMES[IMAGE_FORMAT_NAMES.length - 1]}`;
}

/** Default edge of GET /api/thumb/:id and of the thumbnails made while indexing. */
export const THUMB_SIZE = 256;

/** The server's routes. `thumb` and `file` take a catalog id after them. */
export const ROUTES = {
  ping: '/api/ping',
  status: '/api/status',
  search: '/api/search',
  searchImage: '/api/search-image',
  index: '/api/index',
  forget: '/api/forget',
  events: '/api/events',
  thumb: '/api/thumb/',
  file: '/api/file/',
  /** This module, as an ES module for the GUI. */
  clientModule: '/client.js',
} as const;

/** GET /api/thumb/:id (size: edge in pixels, default THUMB_SIZE). */
export function thumbRoute(id: number, size: number = THUMB_SIZE): string {
  return `${ROUTES.thumb}${id}?size=${size}`;
}

/** GET /api/file/:id (download: as an attachment). */
export function fileRoute(id: number, download = false): string {
  return `${ROUTES.file}${id}${download ? '?download=1' : ''}`;
}

/**
 * Server-sent events. POST /api/index streams `progress`, then `done` or `error`, for its run;
 * GET /api/events streams those for every run (with `source`), plus `forgotten` after
 * POST /api/forget and `changed` after every job.
 */
export const EVENTS = {
  progress: 'progress',
  done: 'done',
  error: 'error',
  forgotten: 'forgotten',
  changed: 'changed',
} as const;
export type EventName = (typeof EVENTS)[keyof typeof EVENTS];

/** Every error code memery uses: the library's, and the server's own (E_AUTH, E_FORBIDDEN, E_INTERNAL). */
export const ERROR_CODES = [
  'E_DECODE',
  'E_MODEL',
  'E_INDEX',
  'E_CONFIG',
  'E_DOWNLOAD',
  'E_CHECKSUM',
  'E_OFFLINE',
  'E_NOT_FOUND',
  'E_USAGE',
  'E_CATALOG',
  'E_CATALOG_DAMAGED',
  'E_DISK_FULL',
  'E_LOCKED',
  'E_ABORTED',
  'E_IO',
  'E_NATIVE',
  'E_NOMEM',
  'E_TOO_LARGE',
  'E_FILENAME',
  /** No token, or a wrong one (HTTP 401/403). */
  'E_AUTH',
  /** Refused by the Host or Origin check (HTTP 403). */
  'E_FORBIDDEN',
  /** A bug in the server (HTTP 500). */
  'E_INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

/** The HTTP status the server answers a library error code with (500 for the rest). */
export const HTTP_STATUS_OF: Partial<Record<ErrorCode, number>> = {
  E_NOT_FOUND: 404,
  E_USAGE: 400,
  E_CONFIG: 400,
  E_DECODE: 422,
  E_LOCKED: 409,
  E_ABORTED: 499,
  E_MODEL: 503,
  E_OFFLINE: 503,
  E_DOWNLOAD: 503,
};

/** One event-stream frame. */
export function sseFrame(event: EventName, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Parses a text/event-stream body incrementally: feed it chunks as they arrive; `onEvent` gets each
 * event's name (default `message`) and its data lines joined. Comments (`: ping`) are skipped.
 */
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

/**
 * The CLI's machine output, for launchers that run `memery` instead of a server: `--json` on
 * stdout, `memery index --progress json` (one JSON object a line on stderr, `type` telling which:
 * progress, then a summary per folder), and errors as one line `{"error":{code,message,hint?}}` on
 * stderr (the server's error body) whenever machine output was asked for or ENV_ERROR_FORMAT is
 * `json`.
 */
export const PROGRESS_LINE_TYPES = { progress: 'progress', summary: 'summary' } as const;
export const ENV_ERROR_FORMAT = 'MEMERY_ERROR_FORMAT';

/**
 * The one progress throttle (server streams, CLI JSON lines): encode progress at most every
 * `intervalMs`; an encode run's first and last step, and every other phase, always pass.
 */
export function progressThrottle(intervalMs = 100, now: () => number = Date.now): (p: { phase: string; done: number; total: number }) => boolean {
  let last = 0;
  return (p) => {
    const t = now();
    if (p.phase === 'encode' && p.done !== 0 && p.done !== p.total && t - last < intervalMs) return false;
    last = t;
    return true;
  };
}

/**
 * How a search ranks (POST /api/search `mode`, `memery search --mode`): hybrid (the default) puts
 * images whose text (OCR) holds the query's words first, then the rest by CLIP score; clip ranks by
 * the picture only; text returns only images whose words match.
 */
export const SEARCH_MODES = ['hybrid', 'clip', 'text'] as const;
export type SearchModeName = (typeof SEARCH_MODES)[number];

/** A piece of a snippet: plain text, or (`hit`) a part the query's words matched. */
export interface SnippetPart {
  text: string;
  hit: boolean;
}

const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;
const flatten = (s: string) => s.replace(/\r?\n/g, ' / ').replace(/[\u0000-\u001f\u007f]/g, ' ');

/**
 * The one-line piece of a result's text (OCR) that every client shows (GUI, CLI table, Raycast,
 * Alfred): at most `width` characters from `lead` characters before the first matched span (so the
 * match shows first even where the client clips the line), else from the text's start; with `fill`
 * (a fixed-width column) a match near the end starts the piece earlier to fill `width`. Line breaks
 * read as " / ", an ellipsis marks a cut. The parts are plain
 * strings: a client renders them as text (the GUI with DOM text nodes and <mark>, never as HTML).
 * `match.spans` are UTF-16 offsets into `text`, end exclusive (the search result's `match`).
 */
export function textSnippet(
  text: string | null | undefined,
  match: { spans: ReadonlyArray<{ start: number; end: number }> } | null | undefined,
  opts: { width?: number; lead?: number; fill?: boolean } = {},
): SnippetPart[] {
  if (!text) return [];
  const width = Math.max(1, opts.width ?? 60);
  const lead = Math.max(0, opts.lead ?? 12);
  const spans = [...(match?.spans ?? [])].filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const first = spans[0];
  let from = first ? Math.max(0, opts.fill ? Math.min(first.start - lead, text.length - width) : first.start - lead) : 0;
  let to = Math.min(text.length, from + width);
  if (from > 0 && isLowSurrogate(text.charCodeAt(from))) from--; // never half a character
  if (to < text.length && isLowSurrogate(text.charCodeAt(to))) to++;
  const parts: SnippetPart[] = [];
  const push = (s: string, hit: boolean) => {
    const t = flatten(s);
    if (t) parts.push({ text: t, hit });
  };
  if (from > 0) parts.push({ text: '\u2026', hit: false });
  let at = from;
  for (const s of spans) {
    const a = Math.max(s.start, at);
    const b = Math.min(s.end, to);
    if (a >= b) continue;
    push(text.slice(at, a), false);
    push(text.slice(a, b), true);
    at = b;
  }
  push(text.slice(at, to), false);
  if (to < text.length) parts.push({ text: '\u2026', hit: false });
  return parts;
}

/** A snippet as one plain string. */
export function snippetText(parts: readonly SnippetPart[]): string {
  return parts.map((p) => p.text).join('');
}

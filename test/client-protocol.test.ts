/**
 * @memery/client's protocol module (packages/client/src/protocol.ts, home.ts, schemas.ts): one
 * place for every constant, route, event name and error code, and nobody spelling them again.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultHome, expandHome } from '@memery/client/home';
import {
  ENV_HOME,
  ENV_PORT,
  ERROR_CODES,
  EVENTS,
  imageFormatList,
  isErrorCode,
  progressThrottle,
  ROUTES,
  SERVER_FILE,
  SERVER_LOCK_FILE,
  sessionCookieName,
  SOCKET_FILE,
  sseFrame,
  sseParser,
  snippetText,
  textSnippet,
  TOKEN_FILE,
  TOKEN_HEADER,
} from '@memery/client/protocol';
import { mergeResults } from '@memery/client';
import { ErrorBodySchema, ServerEventSchema } from '@memery/client/schemas';
import { defaultHome as libraryHome } from '../ts/config/load.js';
import { ERROR_CODES as LIBRARY_CODES } from '../ts/errors.js';
import { ROOT } from './helpers/shared.js';

/** Source files under `dir` (no node_modules, no build output, no generated bundle). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (['node_modules', 'dist', 'client', 'test'].includes(name) && statSync(p).isDirectory()) continue;
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|tsx|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Everywhere a client or the server is written, except the protocol package itself. */
const CLIENT_SOURCES = ['ts', 'gui', join('raycast-extension', 'src'), join('alfred-workflow', 'scripts')].flatMap((d) => sources(join(ROOT, d)));
const PACKAGE_SOURCES = sources(join(ROOT, 'packages', 'client', 'src'));

/** The string literals of a source (quotes and template text; comments dropped first). */
function literals(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:\\'"`])\/\/.*$/gm, '$1');
  return [...code.matchAll(/'((?:\\.|[^'\\\n])*)'|"((?:\\.|[^"\\\n])*)"|`((?:\\.|[^`\\])*)`/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

describe('the protocol module (@memery/client/protocol)', () => {
  it('is read by every layer: the sources list is not empty', () => {
    expect(CLIENT_SOURCES.some((f) => f.includes('raycast-extension'))).toBe(true);
    expect(CLIENT_SOURCES.some((f) => f.includes('alfred-workflow'))).toBe(true);
    expect(CLIENT_SOURCES.some((f) => f.endsWith(join('gui', 'app.js')))).toBe(true);
  });

  it('is the only place that spells the file names, the token header, the cookie, the routes and event frames', () => {
    // Tokens, not prose: a literal without white space that contains one, or a route.
    const spelled = [SOCKET_FILE, TOKEN_FILE, SERVER_FILE, SERVER_LOCK_FILE, TOKEN_HEADER, sessionCookieName(0).replace(/0$/, '')];
    const exact = [ENV_HOME, ENV_PORT];
    const found: string[] = [];
    for (const f of CLIENT_SOURCES) {
      for (const lit of literals(readFileSync(f, 'utf8'))) {
        const token = !/\s/.test(lit);
        const hit =
          (token ? spelled.find((c) => lit.includes(c)) : undefined) ??
          (lit.startsWith('/api/') ? '/api/' : undefined) ??
          exact.find((c) => lit === c) ??
          (/^event: ?\w/m.test(lit) ? 'event:' : undefined);
        if (hit) found.push(`${relative(ROOT, f)}: "${lit.slice(0, 60)}" (${hit})`);
      }
    }
    expect(found).toEqual([]);
  });

  it('names every event the server streams, and the clients listen to no other by a literal name', () => {
    expect(Object.values(EVENTS).sort()).toEqual(['changed', 'done', 'error', 'forgotten', 'progress']);
    const found: string[] = [];
    for (const f of CLIENT_SOURCES) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/addEventListener\(\s*['"](\w+)['"]|event === ['"](\w+)['"]/g)) {
        const name = m[1] ?? m[2]!;
        if ((Object.values(EVENTS) as string[]).includes(name) && name !== 'error') found.push(`${relative(ROOT, f)}: ${name}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('lists every error code the library, the server and the clients use', () => {
    const used = new Map<string, string>();
    for (const f of [...CLIENT_SOURCES, ...PACKAGE_SOURCES]) {
      for (const m of readFileSync(f, 'utf8').matchAll(/\bE_[A-Z][A-Z_]*\b/g)) used.set(m[0], relative(ROOT, f));
    }
    const missing = [...used].filter(([code]) => !isErrorCode(code)).map(([code, f]) => `${code} (${f})`);
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });

  it('every error code the server can send is in the one list (the library uses that same list)', () => {
    const server = sources(join(ROOT, 'ts', 'server'));
    const codes = new Set(server.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/'(E_[A-Z_]+)'/g)].map((m) => m[1]!)));
    for (const c of ['E_AUTH', 'E_FORBIDDEN', 'E_TOO_LARGE', 'E_INTERNAL', 'E_USAGE', 'E_NOT_FOUND']) expect(codes.has(c), c).toBe(true);
    expect([...codes].filter((c) => !isErrorCode(c))).toEqual([]);
    expect(LIBRARY_CODES).toBe(ERROR_CODES);
    expect(ErrorBodySchema.safeParse({ error: { code: 'E_AUTH', message: 'x' } }).success).toBe(true);
    expect(ErrorBodySchema.safeParse({ error: { code: 'E_BAD_REQUEST', message: 'x' } }).success).toBe(false);
  });

  it('names the image formats once (IMAGE_FORMAT_NAMES): messages word the list from it, none spells it', () => {
    expect(imageFormatList()).toBe('JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, HEIC or JPEG XL');
    const found: string[] = [];
    for (const f of CLIENT_SOURCES) {
      for (const lit of literals(readFileSync(f, 'utf8'))) if (/\bJPEG, PNG\b/i.test(lit)) found.push(`${relative(ROOT, f)}: "${lit.slice(0, 60)}"`);
    }
    expect(found).toEqual([]);
  });

  it('routes are absolute API paths, each once', () => {
    const paths = Object.values(ROUTES);
    expect(new Set(paths).size).toBe(paths.length);
    for (const p of paths) expect(p).toMatch(/^\/(api\/[a-z-]+\/?|client\.js)$/);
  });
});

describe('textSnippet (the piece of an image’s text every client shows)', () => {
  const text = 'My grandpa who knows nothing about\nvideo games but loves me\nARE YA WINNING?';
  const start = text.indexOf('ARE');
  const match = { spans: [{ start, end: start + 14 }] };

  it('starts a little before the match, marks it, reads line breaks as " / " and marks cuts with an ellipsis', () => {
    const parts = textSnippet(text, match, { width: 24, lead: 6 });
    expect(parts.filter((p) => p.hit).map((p) => p.text)).toEqual(['ARE YA WINNING']);
    expect(snippetText(parts)).toBe('\u2026es me / ARE YA WINNING?');
    expect(textSnippet(text, null, { width: 12 })).toEqual([
      { text: 'My grandpa w', hit: false },
      { text: '\u2026', hit: false },
    ]);
    expect(textSnippet(null, null)).toEqual([]);
    expect(textSnippet('', match)).toEqual([]);
  });

  it('fills a fixed width when asked (a match near the end starts earlier), never splits a surrogate pair, clamps bad spans', () => {
    const filled = snippetText(textSnippet(text, match, { width: 24, lead: 0, fill: true }));
    expect(filled.endsWith('ARE YA WINNING?')).toBe(true);
    expect(filled.length).toBe(24 + 1 + 2); // an ellipsis, and " / " for the line break
    const emoji = 'ab😂cd';
    expect(textSnippet(emoji, { spans: [{ start: 2, end: 4 }] }, { width: 3, lead: 0 })).toEqual([
      { text: '\u2026', hit: false },
      { text: '😂', hit: true },
      { text: 'c', hit: false },
      { text: '\u2026', hit: false },
    ]);
    expect(snippetText(textSnippet(emoji, { spans: [{ start: 4, end: 5 }] }, { width: 2, lead: 1 }))).toBe('\u2026😂c\u2026'); // not half of it
    expect(snippetText(textSnippet('😂ab', null, { width: 1 }))).toBe('😂\u2026');
    expect(textSnippet('abc', { spans: [{ start: 2, end: 99 }, { start: 1, end: 0 }] })).toEqual([
      { text: 'ab', hit: false },
      { text: 'c', hit: true },
    ]);
  });
});

describe('mergeResults (one CLI run per folder, merged)', () => {
  it('keeps each run’s order (words matches first) and interleaves runs by match, then score', () => {
    const a = [
      { path: '/a/words', score: 0.1, match: { score: 1 } },
      { path: '/a/x', score: 0.9, match: null },
      { path: '/a/y', score: 0.2, match: null },
    ];
    const b = [
      { path: '/b/z', score: 0.5, match: null },
      { path: '/a/x', score: 0.9, match: null },
    ];
    expect(mergeResults([a, b], 10).map((r) => r.path)).toEqual(['/a/words', '/a/x', '/b/z', '/a/y']);
    expect(mergeResults([a], 2).map((r) => r.path)).toEqual(['/a/words', '/a/x']);
    expect(mergeResults([[{ path: '/n', score: Number.NaN }], [{ path: '/m', score: 0 }]], 5).map((r) => r.path)).toEqual(['/m', '/n']);
  });
});

describe('sseParser / sseFrame', () => {
  it('parses frames split anywhere, CRLF, comments, multi-line data and the default event', () => {
    const got: Array<[string, string]> = [];
    const feed = sseParser((e, d) => got.push([e, d]));
    const text = `: connected\r\n\r\n${sseFrame(EVENTS.progress, { done: 1 })}data: a\ndata: b\n\nevent: done\ndata:{"x":1}\n\n: ping\n\n`;
    for (let i = 0; i < text.length; i += 3) feed(text.slice(i, i + 3));
    expect(got).toEqual([
      ['progress', '{"done":1}'],
      ['message', 'a\nb'],
      ['done', '{"x":1}'],
    ]);
  });
});

describe('ServerEventSchema', () => {
  it('covers every event name, forgotten and changed included', () => {
    const samples: Record<string, unknown> = {
      progress: { folder: '/f', phase: 'encode', done: 1, total: 2, source: 'watch' },
      done: { folder: '/f', found: 1, new: 1, unchanged: 0, reembedded: 0, moved: 0, removed: 0, failed: 0, seconds: 0.1, errors: [], skipped: [], source: 'api' },
      error: { folder: '/f', code: 'E_LOCKED', message: 'held', source: 'watch' },
      forgotten: { folder: '/f', removed: 3 },
      changed: {},
    };
    for (const event of Object.values(EVENTS)) expect(ServerEventSchema.safeParse({ event, data: samples[event] }).success, event).toBe(true);
  });
});

describe('defaultHome (@memery/client/home)', () => {
  it('is MEMERY_HOME, else the platform data folder; the library uses the same rule', () => {
    expect(defaultHome({ MEMERY_HOME: '/x/y' }, 'linux', '/home/u')).toBe('/x/y');
    expect(defaultHome({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Application Support/memery');
    expect(defaultHome({}, 'linux', '/home/u')).toBe('/home/u/.local/share/memery');
    expect(defaultHome({ XDG_DATA_HOME: '/data' }, 'linux', '/home/u')).toBe('/data/memery');
    expect(defaultHome({ LOCALAPPDATA: 'C:/L' }, 'win32', 'C:/U')).toMatch(/C:\/L[\\/]memery[\\/]Data$/);
    expect(libraryHome({ MEMERY_HOME: '/a/b' })).toBe(defaultHome({ MEMERY_HOME: '/a/b' }));
    expect(libraryHome({})).toBe(defaultHome({}));
    expect(expandHome('~/p', '/home/u')).toBe('/home/u/p');
    expect(expandHome('  ')).toBe('');
  });
});

describe('progressThrottle', () => {
  it('passes every phase change and an encode run’s first and last step, and at most one step per interval', () => {
    let t = 0;
    const pass = progressThrottle(100, () => t);
    const seen = [
      { phase: 'scan', done: 0, total: 0 },
      { phase: 'encode', done: 0, total: 10 },
      { phase: 'encode', done: 1, total: 10 },
      { phase: 'encode', done: 2, total: 10 },
      { phase: 'encode', done: 10, total: 10 },
    ].map((p) => {
      t += 30;
      return pass(p);
    });
    expect(seen).toEqual([true, true, false, false, true]);
  });
});

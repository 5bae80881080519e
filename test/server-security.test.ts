/**
 * The server's safety rules: nothing outside the catalog is ever served (traversal in every
 * position, encoded or not, absolute paths, symlinks leading out of an indexed folder, symlinks
 * swapped while a file is being served), foreign Host headers and cross-origin POSTs are refused,
 * every TCP request needs the token (another local account gets 401 everywhere and a page that
 * holds no secret), the socket and the token file are private, slow or excess connections are cut
 * off, and a second server on the same home is refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMemeryError } from '../ts/errors.js';
import { TOKEN_HEADER } from '@memery/client/protocol';
import { startServer } from '../ts/server/index.js';
import { thumbnail } from '../ts/native/image-ops.js';
import { CLI_BUILT, COLOUR_MODEL, runCli } from './helpers/cli.js';
import { raw, serverFixture, until, type ServerFixture } from './helpers/browser.js';
import { tempDir, writeSolid } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';
import { ROOT } from './helpers/shared.js';

const SECRET = 'TOP-SECRET-7d1c0c5e';

let fx: ServerFixture;
let outside: string;
let ids: Record<string, number>;

beforeAll(async () => {
  fx = await serverFixture({ index: false });
  // Things outside the indexed folder, reachable only through symlinks inside it.
  outside = tempDir('memery-outside-');
  writeFileSync(join(outside, 'secret.txt'), `${SECRET}\n`);
  await writeSolid(join(outside, 'secret.png'), [250, 5, 5]);
  writeFileSync(join(outside, 'notes.png'), `${SECRET} not really a png\n`);
  symlinkSync(join(outside, 'secret.png'), join(fx.dir, 'link-out.png'));
  symlinkSync(join(outside, 'secret.txt'), join(fx.dir, 'passwd.png'));
  symlinkSync(outside, join(fx.dir, 'linked-dir'));
  await fx.server.memery.index(fx.dir);
  const st = await raw({ port: fx.port, token: fx.token, path: '/api/search', body: { query: 'red', n: 100 } });
  ids = Object.fromEntries(st.json().results.map((r: { id: number; path: string }) => [r.path.slice(fx.dir.length + 1), r.id]));
});
afterAll(async () => {
  await fx?.cleanup();
  rmSync(outside, { recursive: true, force: true });
});

const refused = (status: number) => [400, 403, 404, 405].includes(status);

describe('traversal', () => {
  it('indexes the symlinked files but never serves a file that resolves outside the folder', async () => {
    // The library follows symlinks, so these are catalog entries...
    expect(ids['link-out.png']).toBeTypeOf('number');
    expect(ids[join('linked-dir', 'secret.png')]).toBeTypeOf('number');
    // ...but their bytes live outside the indexed folder: not served, neither whole nor as thumbnails.
    for (const id of [ids['link-out.png']!, ids[join('linked-dir', 'secret.png')]!]) {
      for (const path of [`/api/file/${id}`, `/api/thumb/${id}`, `/api/file/${id}?download=1`]) {
        const r = await raw({ port: fx.port, token: fx.token, path });
        expect(r.status, path).toBe(404);
        expect(r.headers['content-type']).toMatch(/^application\/json/);
      }
    }
    // A real file inside is served.
    expect((await raw({ port: fx.port, token: fx.token, path: `/api/file/${ids['red.png']}` })).status).toBe(200);
  });

  it('refuses raw and encoded .. and absolute paths in every position', async () => {
    const id = ids['red.png']!;
    const targets = [
      '/../../../../etc/passwd',
      '/..%2f..%2f..%2fetc%2fpasswd',
      '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
      '/etc/passwd',
      '//etc/passwd',
      `/${outside.slice(1)}/secret.txt`,
      `/${encodeURIComponent(join(outside, 'secret.txt'))}`,
      '/app.js/../../../../etc/passwd',
      '/api/file/../../../../etc/passwd',
      '/api/file/..%2f..%2f..%2fetc%2fpasswd',
      '/api/file/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      `/api/file/${encodeURIComponent(join(outside, 'secret.txt'))}`,
      `/api/file/${join(outside, 'secret.txt')}`,
      `/api/file//${join(outside, 'secret.txt')}`,
      `/api/file/${id}/../../../../${outside.slice(1)}/secret.txt`,
      `/api/file/${id}/..%2f..%2f..%2f${encodeURIComponent(outside.slice(1))}%2fsecret.txt`,
      `/api/file/${id}%00/etc/passwd`,
      `/api/file/${id}%2f..%2f..%2fsecret.txt`,
      '/api/file/-1',
      '/api/file/0',
      '/api/file/1e3',
      '/api/file/0x1',
      '/api/file/%31',
      '/api/thumb/../../etc/passwd',
      '/api/thumb/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      `/api/thumb/${id}?size=../../etc/passwd`,
      `/api/thumb/${id}?size=${encodeURIComponent(join(outside, 'secret.txt'))}`,
      `/api/thumb/${id}?path=${encodeURIComponent(join(outside, 'secret.txt'))}`,
      '/api/status/../../etc/passwd',
      '/api/../../etc/passwd',
      `/api/file/${ids['passwd.png'] ?? 999999}`,
      `http://127.0.0.1:${fx.port}/../../etc/passwd`,
    ];
    for (const path of targets) {
      const r = await raw({ port: fx.port, token: fx.token, path });
      expect(r.text.includes(SECRET), path).toBe(false);
      expect(r.text.includes('root:x:0:0'), path).toBe(false);
      expect(refused(r.status), `${path} -> ${r.status}`).toBe(true);
    }
  });

  it('serves no id whose file resolves outside the folder (sweep of every id)', async () => {
    const inside = new Set(Object.entries(ids).filter(([p]) => !p.includes('link')).map(([, id]) => id));
    for (let id = 1; id <= 40; id++) {
      for (const path of [`/api/file/${id}`, `/api/thumb/${id}`]) {
        const r = await raw({ port: fx.port, token: fx.token, path });
        expect(r.text.includes(SECRET), path).toBe(false);
        expect(r.status === 200, path).toBe(inside.has(id));
      }
    }
  });

  it('refuses paths in JSON bodies over TCP: image queries must be catalog ids', async () => {
    const secretImage = join(outside, 'secret.png');
    for (const query of [{ image: secretImage }, { text: 'red', negativeImage: secretImage }, { image: '../../../etc/passwd' }, { image: 'id:../1' }]) {
      const r = await raw({ port: fx.port, token: fx.token, path: '/api/search', body: { query } });
      expect(r.status, JSON.stringify(query)).toBe(400);
    }
    // id: references to files outside the folder are refused like the files themselves.
    const r = await raw({ port: fx.port, token: fx.token, path: '/api/search', body: { query: { image: `id:${ids['link-out.png']}` } } });
    expect(r.status).toBe(404);
    // Relative folders in index/forget are rejected before anything is touched.
    for (const path of ['/api/index', '/api/forget']) {
      const bad = await raw({ port: fx.port, token: fx.token, path, body: { folder: '../../etc' } });
      expect(bad.status).toBe(400);
      expect(bad.json().error.issues[0].path).toEqual(['folder']);
    }
  });
});

describe('DNS rebinding, CORS and CSRF', () => {
  it('refuses a foreign Host header with 403, accepts the loopback names', async () => {
    for (const host of ['evil.example', `evil.example:${fx.port}`, `127.0.0.1:${fx.port + 1}`, `localhost.evil.example:${fx.port}`, `127.0.0.1.nip.io:${fx.port}`, '127.0.0.1']) {
      for (const path of ['/', '/app.js', '/api/ping', '/api/status', `/api/file/${ids['red.png']}`, `/api/thumb/${ids['red.png']}`, '/api/events']) {
        const r = await raw({ port: fx.port, token: fx.token, path, headers: { host } });
        expect(r.status, `${host} ${path}`).toBe(403);
        expect(r.text).not.toContain(fx.server.token);
      }
    }
    for (const host of [`127.0.0.1:${fx.port}`, `localhost:${fx.port}`, `LOCALHOST:${fx.port}`]) {
      expect((await raw({ port: fx.port, token: fx.token, path: '/api/status', headers: { host } })).status, host).toBe(200);
    }
  });

  it('sends no CORS headers and refuses cross-origin POSTs', async () => {
    const get = await raw({ port: fx.port, token: fx.token, path: '/api/status', headers: { origin: 'http://evil.example' } });
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await raw({ port: fx.port, token: fx.token, method: 'OPTIONS', path: '/api/search', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect([403, 405]).toContain(pre.status);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const post = await raw({ port: fx.port, token: fx.token, path: '/api/search', body: { query: 'red' }, headers: { origin: 'http://evil.example' } });
    expect(post.status).toBe(403);
    const same = await raw({ port: fx.port, token: fx.token, path: '/api/search', body: { query: 'red' }, headers: { origin: `http://127.0.0.1:${fx.port}` } });
    expect(same.status).toBe(200);
    // A form post cannot send JSON.
    const form = await raw({ port: fx.port, token: fx.token, path: '/api/search', body: 'query=red', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    expect(get.headers['x-content-type-options']).toBe('nosniff');
    expect(get.headers['cross-origin-resource-policy']).toBe('same-origin');
    const page = await raw({ port: fx.port, token: fx.token, path: '/' });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
  });

  it('needs the token for every call over TCP, reads included: missing -> 401, wrong -> 403; the socket needs none', async () => {
    const png = readFileSync(join(fx.dir, 'red.png'));
    const id = ids['red.png']!;
    const calls: Array<{ path: string; body?: object | Buffer; type?: string }> = [
      { path: '/' },
      { path: '/app.js' },
      { path: '/app.css' },
      { path: '/favicon.svg' },
      { path: '/api/ping' },
      { path: '/api/status' },
      { path: '/api/events' },
      { path: `/api/thumb/${id}` },
      { path: `/api/file/${id}` },
      { path: `/api/file/${id}?download=1` },
      { path: '/api/search', body: { query: 'red' }, type: 'application/json' },
      { path: '/api/index', body: { folder: fx.dir }, type: 'application/json' },
      { path: '/api/forget', body: { folder: fx.dir }, type: 'application/json' },
      { path: '/api/search-image', body: png, type: 'image/png' },
      { path: '/api/nothing' },
    ];
    for (const c of calls) {
      const headers = c.type ? { 'content-type': c.type } : {};
      const missing = await raw({ port: fx.port, path: c.path, body: c.body, headers });
      expect(missing.status, c.path).toBe(401);
      expect(missing.headers.connection, c.path).toBe('close');
      expect(missing.text).not.toContain(fx.token);
      const wrong = await raw({ port: fx.port, path: c.path, body: c.body, headers: { ...headers, [TOKEN_HEADER]: 'f'.repeat(64) } });
      expect(wrong.status, c.path).toBe(403);
      const short = await raw({ port: fx.port, path: c.path, body: c.body, headers: { ...headers, [TOKEN_HEADER]: 'x' } });
      expect(short.status, c.path).toBe(403);
      // A wrong ?token= on the page is no way in either.
      const badQuery = await raw({ port: fx.port, path: `/?token=${'0'.repeat(64)}` });
      expect(badQuery.status).toBe(401);
      expect(badQuery.headers['set-cookie']).toBeUndefined();
    }
    expect((await raw({ port: fx.port, token: fx.token, path: '/api/search', body: { query: 'red' } })).status).toBe(200);
    const ok = await raw({ port: fx.port, token: fx.token, path: '/api/search-image?n=1', body: png, headers: { 'content-type': 'image/png' } });
    expect(ok.status).toBe(200);
    // The socket needs none (its mode admits only the owner).
    const viaSocket = await raw({ socketPath: fx.server.socketPath, path: '/api/index', body: { folder: fx.dir } });
    expect(viaSocket.status).toBe(200);
    expect(viaSocket.text).toContain('event: done');
    expect((await raw({ socketPath: fx.server.socketPath, path: '/api/status' })).status).toBe(200);
  });

  it('never puts the token in the page; without it the page only says how to get in', async () => {
    const page = await raw({ port: fx.port, token: fx.token, path: '/' });
    expect(page.status).toBe(200);
    expect(page.text).not.toContain(fx.token);
    expect(page.text).not.toContain('__MEMERY_TOKEN__');
    expect(page.text).not.toContain('memery-token');
    expect(page.headers['cache-control']).toBe('no-store');
    expect((await raw({ port: fx.port, token: fx.token, path: '/api/status' })).text).not.toContain(fx.token);
    const anon = await raw({ port: fx.port, path: '/' });
    expect(anon.status).toBe(401);
    expect(anon.headers['content-type']).toMatch(/^text\/html/);
    expect(anon.text).toContain('memery serve --open');
    expect(anon.text).toContain('server-token');
    for (const secret of [fx.token, fx.home, fx.dir, basename(fx.dir), basename(fx.home), 'red.png', outside]) expect(anon.text).not.toContain(secret);
    expect(anon.text).not.toMatch(/\d+ (images|files|folders)/);
    expect(anon.text).not.toContain('<script');
  });

  it("trades the printed URL's ?token= for a per-port HttpOnly cookie that then opens every route", async () => {
    expect(fx.server.url).toBe(`http://127.0.0.1:${fx.port}/?token=${fx.token}`);
    const open = await raw({ port: fx.port, path: new URL(fx.server.url).pathname + new URL(fx.server.url).search });
    expect(open.status).toBe(303);
    expect(open.headers.location).toBe('/');
    const setCookie = String(open.headers['set-cookie']);
    expect(setCookie).toMatch(new RegExp(`^memery_session_${fx.port}=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=/$`));
    expect(setCookie).not.toContain(fx.token); // a key of this server run: the token itself never travels in a cookie
    const cookie = setCookie.split(';')[0]!;
    const page = await raw({ port: fx.port, path: '/', headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('<script type="module" src="/app.js">');
    expect(page.text).not.toContain(fx.token);
    expect((await raw({ port: fx.port, path: '/app.js', headers: { cookie } })).status).toBe(200);
    expect((await raw({ port: fx.port, path: '/api/status', headers: { cookie } })).json().counts.files).toBeGreaterThan(0);
    expect((await raw({ port: fx.port, path: `/api/thumb/${ids['red.png']}`, headers: { cookie, 'sec-fetch-site': 'same-origin' } })).status).toBe(200);
    // The GUI's own POSTs (same Origin) go through on the cookie alone...
    const search = await raw({ port: fx.port, path: '/api/search', body: { query: 'red', n: 1 }, headers: { cookie, origin: `http://127.0.0.1:${fx.port}`, 'sec-fetch-site': 'same-origin' } });
    expect(search.status).toBe(200);
    const forget = await raw({ port: fx.port, path: '/api/forget', body: { folder: '/not-indexed' }, headers: { cookie, origin: `http://127.0.0.1:${fx.port}` } });
    expect(forget.status).toBe(404); // past the token check: the folder is not in the catalog
    // ...but not from another origin (another local port is the same "site" for SameSite).
    const crossPost = await raw({ port: fx.port, path: '/api/forget', body: { folder: '/not-indexed' }, headers: { cookie, origin: 'http://127.0.0.1:9' } });
    expect(crossPost.status).toBe(403);
    const crossGet = await raw({ port: fx.port, path: `/api/file/${ids['red.png']}`, headers: { cookie, 'sec-fetch-site': 'same-site' } });
    expect(crossGet.status).toBe(401);
    // Another port's cookie name, a stale value, or the token itself as the cookie, is no way in.
    const value = cookie.split('=')[1]!;
    expect((await raw({ port: fx.port, path: '/api/status', headers: { cookie: `memery_session_${fx.port + 1}=${value}` } })).status).toBe(401);
    expect((await raw({ port: fx.port, path: '/api/status', headers: { cookie: `memery_session_${fx.port}=${'0'.repeat(64)}` } })).status).toBe(401);
    expect((await raw({ port: fx.port, path: '/api/status', headers: { cookie: `memery_session_${fx.port}=${fx.token}` } })).status).toBe(401);
  });

  it('limits uploads', async () => {
    const big = Buffer.alloc(33 * 1024 * 1024);
    const r = await raw({ port: fx.port, token: fx.token, path: '/api/search-image', body: big, headers: { 'content-type': 'image/png' } }).catch(
      (err: Error) => ({ status: -1, text: err.message }),
    );
    expect([413, -1]).toContain(r.status); // 413, or the connection cut while still sending
    let left: string[] = [];
    try {
      left = readdirSync(join(fx.home, 'tmp'));
    } catch {
      left = [];
    }
    expect(left).toEqual([]);
  });
});

describe('files and processes', () => {
  it('keeps the socket, the token file and the pid file private (0600)', () => {
    const sock = statSync(fx.server.socketPath!);
    expect(sock.isSocket()).toBe(true);
    expect(sock.mode & 0o777).toBe(0o600);
    expect(statSync(join(fx.home, 'server-token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(fx.home, 'server-token'), 'utf8').trim()).toBe(fx.server.token);
    expect(statSync(join(fx.home, 'server.json')).mode & 0o777).toBe(0o600);
  });

  it('refuses a second server on the same home with E_LOCKED', async () => {
    const err = await startServer({ home: fx.home, port: 0, log: () => {}, memery: { modelDir: COLOUR_HF } }).then(
      (s) => s.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(isMemeryError(err, 'E_LOCKED')).toBe(true);
    expect((err as Error).message).toMatch(/already running for .*at http:\/\/127\.0\.0\.1:\d+\//);
    // The first one is unharmed.
    expect((await raw({ port: fx.port, token: fx.token, path: '/api/status' })).status).toBe(200);
  });

  it("respects another live process's server lock (naming it), and takes over once it died", async () => {
    const home = tempDir('memery-home-');
    // Another process holds the home's server lock (as a running server does) and wrote server.json.
    const lockJs = join(ROOT, 'dist', 'ts', 'util', 'lock.js');
    const script = `const { acquireLock } = await import(${JSON.stringify(lockJs)});
await acquireLock(${JSON.stringify(join(home, 'server.lock'))}, 0);
(await import('node:fs')).writeFileSync(${JSON.stringify(join(home, 'server.json'))}, JSON.stringify({ pid: process.pid, startedAt: Date.now(), url: 'http://127.0.0.1:1/' }));
console.log('held');
setInterval(() => {}, 1000);`;
    const other = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => other.stdout!.once('data', () => resolve()));
      await expect(startServer({ home, port: 0, log: () => {}, memery: { modelDir: COLOUR_HF } })).rejects.toMatchObject({
        code: 'E_LOCKED',
        message: expect.stringMatching(new RegExp(`pid ${other.pid}\\).* at http://127\\.0\\.0\\.1:1/`)),
      });
    } finally {
      other.kill('SIGKILL'); // the kernel drops its lock; the server.json it left is stale
      await new Promise((r) => other.once('exit', r));
    }
    const s = await startServer({ home, port: 0, log: () => {}, memery: { modelDir: COLOUR_HF } });
    try {
      expect(JSON.parse(readFileSync(join(home, 'server.json'), 'utf8')).pid).toBe(process.pid);
    } finally {
      await s.close();
      rmSync(home, { recursive: true, force: true });
    }
  });

  it.skipIf(!CLI_BUILT)('`memery serve --open` prints and opens the ?token= URL; with a server already running it opens that one', async () => {
    // A stand-in for xdg-open that records the URL it was given.
    const bin = tempDir('memery-bin-');
    const record = join(bin, 'opened.txt');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$1" >> '${record}'\n`, { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const home = tempDir('memery-home-');
    try {
      // The server of fx.home runs in this process: --open opens it instead of failing.
      const again = await runCli(['serve', '--open'], { home: fx.home, env });
      expect(again.code, again.stderr).toBe(0);
      await until(() => existsSync(record), 10_000, 'xdg-open to be run');
      expect(readFileSync(record, 'utf8').trim()).toBe(fx.server.url);
      rmSync(record);
      // A fresh one prints the URL with the token and opens it.
      let child: ChildProcess | undefined;
      const run = runCli(['serve', '--port', '0', '--open', '--model-dir', COLOUR_MODEL], { home, env, onSpawn: (c) => (child = c) });
      await until(() => existsSync(record), 30_000, 'xdg-open to be run by the new server');
      child!.kill('SIGTERM');
      const r = await run;
      const token = readFileSync(join(home, 'server-token'), 'utf8').trim();
      const opened = readFileSync(record, 'utf8').trim();
      expect(opened).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/\\?token=${token}$`));
      expect(r.stderr).toContain(`listening on ${opened}`);
    } finally {
      rmSync(bin, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('listens beyond loopback only when allowed, and then wants the token on every request', async () => {
    const home = tempDir('memery-home-');
    mkdirSync(home, { recursive: true });
    try {
      await expect(startServer({ home, host: '0.0.0.0', port: 0, log: () => {}, memery: { modelDir: COLOUR_HF } })).rejects.toMatchObject({ code: 'E_USAGE' });
      const s = await startServer({ home, host: '0.0.0.0', allowRemote: true, socket: false, port: 0, log: () => {}, memery: { modelDir: COLOUR_HF } });
      try {
        const port = Number(new URL(s.url).port);
        expect(s.url).toContain(`?token=${s.token}`);
        expect(s.socketPath).toBeUndefined();
        const anon = await raw({ port, path: '/api/status', headers: { host: `192.0.2.1:${port}` } });
        expect(anon.status).toBe(401);
        expect((await raw({ port, path: '/' })).status).toBe(401);
        const withHeader = await raw({ port, path: '/api/status', headers: { host: `192.0.2.1:${port}`, [TOKEN_HEADER]: s.token } });
        expect(withHeader.status).toBe(200);
        const open = await raw({ port, path: `/?token=${s.token}` });
        expect(open.status).toBe(303);
        const cookie = String(open.headers['set-cookie']);
        expect(cookie).toMatch(new RegExp(`^memery_session_${port}=[0-9a-f]+; HttpOnly; SameSite=Strict; Path=/$`));
        const page = await raw({ port, path: '/', headers: { cookie: cookie.split(';')[0]! } });
        expect(page.status).toBe(200);
        // The cookie stands in for the header (the GUI sends no header), from the page's own origin only.
        const forget = await raw({ port, path: '/api/forget', body: { folder: '/x' }, headers: { cookie: cookie.split(';')[0]!, origin: `http://127.0.0.1:${port}` } });
        expect(forget.status).toBe(404);
        const cross = await raw({ port, path: '/api/forget', body: { folder: '/x' }, headers: { cookie: cookie.split(';')[0]!, origin: 'http://evil.example' } });
        expect(cross.status).toBe(403);
        expect((await raw({ port, path: '/api/forget', body: { folder: '/x' } })).status).toBe(401);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

// ---- another local account ---------------------------------------------------------------------

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const AS_ROOT = process.getuid?.() === 0;
const OTHER_USER_SKIP_REASON = !AS_ROOT
  ? 'Not running as root: the test that plays another local account (nobody, via setpriv) is skipped.'
  : 'setpriv not found (util-linux): the test that plays another local account (nobody) is skipped.';

/** Run as `nobody`: requests every route over TCP without a token, tries the socket and the token file. */
const AS_NOBODY = `
const http = require('node:http');
const fs = require('node:fs');
const [port, id, sock, tokenFile] = process.argv.slice(1);
const get = (method, path, body, type) => new Promise((resolve) => {
  const headers = { host: '127.0.0.1:' + port };
  if (body) { headers['content-type'] = type; headers['content-length'] = Buffer.byteLength(body); }
  const req = http.request({ host: '127.0.0.1', port: Number(port), method, path, headers, agent: false }, (res) => {
    const chunks = [];
    const done = () => resolve({ method, path, status: res.statusCode, setCookie: res.headers['set-cookie'] ?? null, body: Buffer.concat(chunks).toString('utf8') });
    const t = setTimeout(() => { res.destroy(); done(); }, 3000);
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => { clearTimeout(t); done(); });
    res.on('error', () => {});
  });
  req.on('error', (e) => resolve({ method, path, status: -1, error: e.code }));
  req.end(body);
});
(async () => {
  const out = { uid: process.getuid(), replies: [] };
  for (const p of ['/', '/?token=', '/?token=' + '0'.repeat(64), '/app.js', '/app.css', '/favicon.svg', '/api/ping', '/api/status', '/api/events',
                   '/api/thumb/' + id, '/api/thumb/' + id + '?size=64', '/api/file/' + id, '/api/file/' + id + '?download=1', '/api/nothing']) {
    out.replies.push(await get('GET', p));
  }
  out.replies.push(await get('POST', '/api/search', JSON.stringify({ query: 'red' }), 'application/json'));
  out.replies.push(await get('POST', '/api/search-image', '\\x89PNG\\r\\n\\x1a\\n0000000000000000', 'image/png'));
  out.replies.push(await get('POST', '/api/index', JSON.stringify({ folder: '/tmp' }), 'application/json'));
  out.replies.push(await get('POST', '/api/forget', JSON.stringify({ folder: '/tmp' }), 'application/json'));
  out.socket = await new Promise((resolve) => {
    const req = http.request({ socketPath: sock, path: '/api/status', headers: { host: 'localhost' } }, (res) => { res.resume(); resolve('HTTP ' + res.statusCode); });
    req.on('error', (e) => resolve(e.code));
    req.end();
  });
  try { fs.readFileSync(tokenFile, 'utf8'); out.tokenFile = 'read'; } catch (e) { out.tokenFile = e.code; }
  process.stdout.write(JSON.stringify(out));
})();
`;

describe('another local account', () => {
  it.skipIf(!AS_ROOT || !SETPRIV)('gets 401 on every TCP route, a page without the token, and no way in through the socket or the token file', async () => {
    const id = ids['red.png']!;
    // Asynchronously: the server answers from this very process.
    const child = spawn(
      SETPRIV!,
      ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', AS_NOBODY, String(fx.port), String(id), fx.server.socketPath!, join(fx.home, 'server-token')],
      { cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const [code] = (await once(child, 'exit')) as [number | null];
    const r = { status: code, stdout, stderr };
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      uid: number;
      replies: Array<{ method: string; path: string; status: number; setCookie: string[] | null; body: string }>;
      socket: string;
      tokenFile: string;
    };
    expect(out.uid).not.toBe(0);
    expect(out.replies.length).toBe(18);
    for (const reply of out.replies) {
      expect(reply.status, `${reply.method} ${reply.path}`).toBe(401);
      expect(reply.setCookie, reply.path).toBeNull();
      for (const secret of [fx.token, fx.home, fx.dir, basename(fx.dir), 'red.png', outside]) {
        expect(reply.body.includes(secret), `${reply.method} ${reply.path} leaks ${secret}`).toBe(false);
      }
    }
    const page = out.replies.find((x) => x.path === '/')!;
    expect(page.body).toContain('memery serve --open');
    expect(page.body).not.toMatch(/\d+ (images|files|folders)/);
    expect(out.socket).toBe('EACCES');
    expect(out.tokenFile).toBe('EACCES');
    // The owner, meanwhile, gets in with the printed URL.
    const open = await raw({ port: fx.port, path: `/?token=${fx.token}` });
    expect(open.status).toBe(303);
    const cookie = String(open.headers['set-cookie']).split(';')[0]!;
    expect((await raw({ port: fx.port, path: '/api/status', headers: { cookie } })).status).toBe(200);
  });
  if (!AS_ROOT || !SETPRIV) it.skip(OTHER_USER_SKIP_REASON, () => {});
});

// ---- symlinks swapped while serving --------------------------------------------------------------

/** Flips, as fast as it can: `flip.png` between a link to an image inside and one outside, and `sub/` between a folder and a link to an outside folder. */
const FLIPPER = `
const fs = require('node:fs');
const [dir, inside, outsideImage, outsideDir] = process.argv.slice(1);
const link = dir + '/flip.png', tmp = dir + '/.flip.tmp', sub = dir + '/sub', parked = dir + '/.sub-parked';
for (let i = 0; ; i++) {
  try { fs.rmSync(tmp, { force: true }); fs.symlinkSync(i % 2 ? outsideImage : inside, tmp); fs.renameSync(tmp, link); } catch {}
  try {
    const isLink = fs.lstatSync(sub, { throwIfNoEntry: false })?.isSymbolicLink();
    if (i % 2 && isLink === false) { fs.renameSync(sub, parked); fs.symlinkSync(outsideDir, sub); }
    else if (!(i % 2) && isLink) { fs.unlinkSync(sub); fs.renameSync(parked, sub); }
  } catch {}
}
`;

describe('symlinks swapped while files are served', () => {
  let rx: ServerFixture;
  let away: string;
  let flipper: ChildProcess | undefined;

  beforeAll(async () => {
    rx = await serverFixture({ index: false });
    away = tempDir('memery-away-');
    await writeSolid(join(away, 'secret.png'), [250, 5, 5], 70, 50);
    mkdirSync(join(away, 'sub'));
    await writeSolid(join(away, 'sub', 'x.png'), [250, 250, 5], 90, 40);
    symlinkSync(rx.files.blue!, join(rx.dir, 'flip.png'));
    mkdirSync(join(rx.dir, 'sub'));
    await writeSolid(join(rx.dir, 'sub', 'x.png'), [5, 5, 250], 90, 40);
    await rx.server.memery.index(rx.dir);
  });
  afterAll(async () => {
    flipper?.kill('SIGKILL');
    if (flipper && flipper.exitCode === null && flipper.signalCode === null) await once(flipper, 'exit');
    await rx?.cleanup();
    rmSync(away, { recursive: true, force: true });
  });

  it('serves only the inside image or 404, never the outside file or its thumbnail', async () => {
    const idOf = (path: string): number => {
      for (let id = 1; id < 100; id++) if (rx.server.memery.file(id)?.path === path) return id;
      throw new Error(`${path} is not in the catalog`);
    };
    const cases = [
      { id: idOf(join(rx.dir, 'flip.png')), inside: rx.files.blue!, outside: join(away, 'secret.png') },
      { id: idOf(join(rx.dir, 'sub', 'x.png')), inside: join(rx.dir, 'sub', 'x.png'), outside: join(away, 'sub', 'x.png') },
    ].map((c) => ({ ...c, insideBytes: readFileSync(c.inside), outsideBytes: readFileSync(c.outside) }));
    const sizes = Array.from({ length: 150 }, (_, i) => 16 + i);
    const thumbs = new Map<string, Buffer>();
    for (const c of cases) {
      for (const size of sizes) {
        thumbs.set(`${c.id}-in-${size}`, (await thumbnail(c.insideBytes, { size, format: 'jpeg' })).data);
        thumbs.set(`${c.id}-out-${size}`, (await thumbnail(c.outsideBytes, { size, format: 'jpeg' })).data);
      }
    }
    flipper = spawn(process.execPath, ['-e', FLIPPER, rx.dir, rx.files.blue!, join(away, 'secret.png'), join(away, 'sub')], { stdio: 'ignore' });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const counts = { ok: 0, notFound: 0 };
    try {
      const jobs: Array<Promise<void>> = [];
      for (const c of cases) {
        for (const size of sizes) {
          jobs.push(
            (async () => {
              const t = await raw({ port: rx.port, token: rx.token, agent, path: `/api/thumb/${c.id}?size=${size}` });
              const label = `thumb ${c.id} size ${size}`;
              expect(t.body.equals(thumbs.get(`${c.id}-out-${size}`)!), `${label}: the outside file's thumbnail`).toBe(false);
              if (t.status === 200) {
                expect(t.body.equals(thumbs.get(`${c.id}-in-${size}`)!), label).toBe(true);
                counts.ok++;
              } else {
                expect(t.status, label).toBe(404);
                counts.notFound++;
              }
              const f = await raw({ port: rx.port, token: rx.token, agent, path: `/api/file/${c.id}` });
              expect(f.body.equals(c.outsideBytes), `file ${c.id}: the outside file`).toBe(false);
              if (f.status === 200) {
                expect(f.body.equals(c.insideBytes), `file ${c.id}`).toBe(true);
                counts.ok++;
              } else {
                expect(f.status, `file ${c.id}`).toBe(404);
                counts.notFound++;
              }
            })(),
          );
        }
      }
      await Promise.all(jobs);
    } finally {
      agent.destroy();
      flipper.kill('SIGKILL');
    }
    // Both states were hit: the swap really raced the requests.
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.notFound).toBeGreaterThan(0);
  });
});

// ---- slow and excess connections -----------------------------------------------------------------

/** Opens a TCP connection and sends `head`; resolves with what came back once the server closed it. */
async function openRequest(port: number, head: string): Promise<{ socket: Socket; closed: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (received += d));
  socket.on('error', () => {});
  const closed = once(socket, 'close').then(() => received);
  socket.write(head);
  return { socket, closed };
}

describe('slow and excess connections', () => {
  let lx: ServerFixture;
  const logs: string[] = [];
  beforeAll(async () => {
    lx = await serverFixture({ index: false, requestTimeoutMs: 1_500, headersTimeoutMs: 1_000, maxConnectionsPerPeer: 4, log: (l) => logs.push(l) });
  });
  afterAll(async () => {
    await lx?.cleanup();
  });

  it('closes a request whose body does not arrive within requestTimeoutMs, even a trickling one, and logs it as one line', async () => {
    const head =
      `POST /api/search HTTP/1.1\r\nHost: 127.0.0.1:${lx.port}\r\n${TOKEN_HEADER}: ${lx.token}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"query":';
    const { socket, closed } = await openRequest(lx.port, head);
    const trickle = setInterval(() => socket.write(' '), 100);
    const received = await closed.finally(() => clearInterval(trickle));
    expect(received === '' || received.startsWith('HTTP/1.1 408'), received).toBe(true);
    await until(() => logs.some((l) => l.includes('/api/search')), 10_000, 'the log line');
    const lines = logs.filter((l) => l.includes('/api/search'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^POST \/api\/search: request body aborted after [\d.]+ s, \d+ of 100000 bytes received \(it took longer than 1\.5 s\)$/);
    expect(logs.some((l) => /\n\s+at /.test(l) || l.startsWith('internal error'))).toBe(false);
  });

  it('answers a request without the token at once and closes it, without waiting for its body', async () => {
    const before = logs.length;
    const head = `POST /api/search HTTP/1.1\r\nHost: 127.0.0.1:${lx.port}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"query":`;
    const { closed } = await openRequest(lx.port, head);
    const received = await closed; // the body was never finished: the server closed the connection
    expect(received).toMatch(/^HTTP\/1\.1 401 /);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(logs.slice(before)).toEqual([]);
  });

  it('caps connections per address: over the cap a new one gets 503 at once; freed slots serve again', async () => {
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = connect(lx.port, '127.0.0.1');
        s.on('error', () => {});
        await once(s, 'connect');
        // Keep each one busy with a request whose headers are still coming (bounded by headersTimeoutMs).
        s.write(`GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:${lx.port}\r\n`);
        held.push(s);
      }
      const agent = new Agent({ keepAlive: false });
      const over = await raw({ port: lx.port, token: lx.token, agent, path: '/api/ping' }).catch((err: NodeJS.ErrnoException) => ({ status: -1, text: String(err.code) }));
      expect([503, -1]).toContain(over.status); // 503, or the reset that follows it
      expect(over.text).not.toContain('"memery"');
      agent.destroy();
    } finally {
      for (const s of held) s.destroy();
    }
    // Once they are gone, the same address is served again.
    const ok = await until(async () => (await raw({ port: lx.port, token: lx.token, agent: new Agent({ keepAlive: false }), path: '/api/ping' })).status === 200, 10_000, 'a free slot');
    expect(ok).toBe(true);
  });
});

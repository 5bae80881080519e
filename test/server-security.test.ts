/**
 * The server's safety rules: nothing outside the catalog is ever served (traversal in every
 * position, encoded or not, absolute paths, symlinks leading out of an indexed folder), foreign
 * Host headers and cross-origin POSTs are refused, state-changing calls need the token, the socket
 * and the token file are private, and a second server on the same home is refused.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMemeryError } from '../ts/errors.js';
import { TOKEN_HEADER } from '../ts/server/api-schemas.js';
import { startServer } from '../ts/server/index.js';
import { raw, serverFixture, type ServerFixture } from './helpers/browser.js';
import { tempDir, writeSolid } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';

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
  const st = await raw({ port: fx.port, path: '/api/search', body: { query: 'red', n: 100 } });
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
        const r = await raw({ port: fx.port, path });
        expect(r.status, path).toBe(404);
        expect(r.headers['content-type']).toMatch(/^application\/json/);
      }
    }
    // A real file inside is served.
    expect((await raw({ port: fx.port, path: `/api/file/${ids['red.png']}` })).status).toBe(200);
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
      const r = await raw({ port: fx.port, path });
      expect(r.text.includes(SECRET), path).toBe(false);
      expect(r.text.includes('root:x:0:0'), path).toBe(false);
      expect(refused(r.status), `${path} -> ${r.status}`).toBe(true);
    }
  });

  it('serves no id whose file resolves outside the folder (sweep of every id)', async () => {
    const inside = new Set(Object.entries(ids).filter(([p]) => !p.includes('link')).map(([, id]) => id));
    for (let id = 1; id <= 40; id++) {
      for (const path of [`/api/file/${id}`, `/api/thumb/${id}`]) {
        const r = await raw({ port: fx.port, path });
        expect(r.text.includes(SECRET), path).toBe(false);
        expect(r.status === 200, path).toBe(inside.has(id));
      }
    }
  });

  it('refuses paths in JSON bodies over TCP: image queries must be catalog ids', async () => {
    const secretImage = join(outside, 'secret.png');
    for (const query of [{ image: secretImage }, { text: 'red', negativeImage: secretImage }, { image: '../../../etc/passwd' }, { image: 'id:../1' }]) {
      const r = await raw({ port: fx.port, path: '/api/search', body: { query } });
      expect(r.status, JSON.stringify(query)).toBe(400);
    }
    // id: references to files outside the folder are refused like the files themselves.
    const r = await raw({ port: fx.port, path: '/api/search', body: { query: { image: `id:${ids['link-out.png']}` } } });
    expect(r.status).toBe(404);
    // Relative folders in index/forget are rejected before anything is touched.
    for (const path of ['/api/index', '/api/forget']) {
      const bad = await raw({ port: fx.port, path, body: { folder: '../../etc' }, headers: { [TOKEN_HEADER]: fx.server.token } });
      expect(bad.status).toBe(400);
      expect(bad.json().error.issues[0].path).toEqual(['folder']);
    }
  });
});

describe('DNS rebinding, CORS and CSRF', () => {
  it('refuses a foreign Host header with 403, accepts the loopback names', async () => {
    for (const host of ['evil.example', `evil.example:${fx.port}`, `127.0.0.1:${fx.port + 1}`, `localhost.evil.example:${fx.port}`, `127.0.0.1.nip.io:${fx.port}`, '127.0.0.1']) {
      for (const path of ['/', '/app.js', '/api/ping', '/api/status', `/api/file/${ids['red.png']}`, `/api/thumb/${ids['red.png']}`, '/api/events']) {
        const r = await raw({ port: fx.port, path, headers: { host } });
        expect(r.status, `${host} ${path}`).toBe(403);
        expect(r.text).not.toContain(fx.server.token);
      }
    }
    for (const host of [`127.0.0.1:${fx.port}`, `localhost:${fx.port}`, `LOCALHOST:${fx.port}`]) {
      expect((await raw({ port: fx.port, path: '/api/status', headers: { host } })).status, host).toBe(200);
    }
  });

  it('sends no CORS headers and refuses cross-origin POSTs', async () => {
    const get = await raw({ port: fx.port, path: '/api/status', headers: { origin: 'http://evil.example' } });
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await raw({ port: fx.port, method: 'OPTIONS', path: '/api/search', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect([403, 405]).toContain(pre.status);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const post = await raw({ port: fx.port, path: '/api/search', body: { query: 'red' }, headers: { origin: 'http://evil.example' } });
    expect(post.status).toBe(403);
    const same = await raw({ port: fx.port, path: '/api/search', body: { query: 'red' }, headers: { origin: `http://127.0.0.1:${fx.port}` } });
    expect(same.status).toBe(200);
    // A form post cannot send JSON.
    const form = await raw({ port: fx.port, path: '/api/search', body: 'query=red', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(415);
    expect(get.headers['x-content-type-options']).toBe('nosniff');
    expect(get.headers['cross-origin-resource-policy']).toBe('same-origin');
    const page = await raw({ port: fx.port, path: '/' });
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
  });

  it('needs the token for state-changing calls over TCP: missing -> 401, wrong -> 403', async () => {
    const png = readFileSync(join(fx.dir, 'red.png'));
    const calls = [
      { path: '/api/index', body: { folder: fx.dir } as object | Buffer, type: 'application/json' },
      { path: '/api/forget', body: { folder: fx.dir }, type: 'application/json' },
      { path: '/api/search-image', body: png, type: 'image/png' },
    ];
    for (const c of calls) {
      const missing = await raw({ port: fx.port, path: c.path, body: c.body, headers: { 'content-type': c.type } });
      expect(missing.status, c.path).toBe(401);
      const wrong = await raw({ port: fx.port, path: c.path, body: c.body, headers: { 'content-type': c.type, [TOKEN_HEADER]: 'f'.repeat(64) } });
      expect(wrong.status, c.path).toBe(403);
      const short = await raw({ port: fx.port, path: c.path, body: c.body, headers: { 'content-type': c.type, [TOKEN_HEADER]: 'x' } });
      expect(short.status, c.path).toBe(403);
    }
    expect((await raw({ port: fx.port, path: '/api/search', body: { query: 'red' } })).status).toBe(200);
    const ok = await raw({ port: fx.port, path: '/api/search-image?n=1', body: png, headers: { 'content-type': 'image/png', [TOKEN_HEADER]: fx.server.token } });
    expect(ok.status).toBe(200);
    // The socket needs none (its mode admits only the owner).
    const viaSocket = await raw({ socketPath: fx.server.socketPath, path: '/api/index', body: { folder: fx.dir } });
    expect(viaSocket.status).toBe(200);
    expect(viaSocket.text).toContain('event: done');
  });

  it('embeds the token only in the GUI page, for the right Host', async () => {
    const page = await raw({ port: fx.port, path: '/' });
    expect(page.status).toBe(200);
    expect(page.text).toContain(`<meta name="memery-token" content="${fx.server.token}">`);
    expect(page.headers['cache-control']).toBe('no-store');
    expect((await raw({ port: fx.port, path: '/api/status' })).text).not.toContain(fx.server.token);
  });

  it('limits uploads', async () => {
    const big = Buffer.alloc(33 * 1024 * 1024);
    const r = await raw({ port: fx.port, path: '/api/search-image', body: big, headers: { 'content-type': 'image/png', [TOKEN_HEADER]: fx.server.token } }).catch(
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
    expect((await raw({ port: fx.port, path: '/api/status' })).status).toBe(200);
  });

  it('respects a pid file of another live process, and takes over a dead one', async () => {
    const home = tempDir('memery-home-');
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(home, 'server.json'), JSON.stringify({ pid: other.pid, startedAt: Date.now(), url: 'http://127.0.0.1:1/' }));
      await expect(startServer({ home, port: 0, log: () => {}, memery: { modelDir: COLOUR_HF } })).rejects.toMatchObject({
        code: 'E_LOCKED',
        message: expect.stringContaining(`pid ${other.pid}`),
      });
    } finally {
      other.kill();
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
        expect(cookie).toMatch(/memery_token=[0-9a-f]+; HttpOnly; SameSite=Strict/);
        const page = await raw({ port, path: '/', headers: { cookie: cookie.split(';')[0]! } });
        expect(page.status).toBe(200);
        // The cookie does not stand in for the header on state-changing calls.
        const forget = await raw({ port, path: '/api/forget', body: { folder: '/x' }, headers: { cookie: cookie.split(';')[0]! } });
        expect(forget.status).toBe(401);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

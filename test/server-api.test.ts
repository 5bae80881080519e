/**
 * The server's JSON API over real HTTP and over the Unix socket, with the colour-CLIP test model:
 * search, status, indexing with server-sent progress, forget, thumbnails and files by id, 400s
 * carrying the zod issue, 404s for unknown ids, 200 concurrent searches, and the words in images:
 * the search `mode`, the index request's `ocr`, and how many images have text in /api/status.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findServer, type ServerClient } from '../ts/server/client.js';
import { DEFAULT_PORT, TOKEN_HEADER } from '@memery/client/protocol';
import { COLOURS, writeSolid } from './helpers/images.js';
import { parseSse, raw, serverFixture, type RawOptions, type ServerFixture } from './helpers/browser.js';
import { setImageText } from './helpers/texts.js';

const name = (p: string) => basename(p).replace(/\.\w+$/, '');

let fx: ServerFixture;
let token: string;
let socketPath: string;

beforeAll(async () => {
  fx = await serverFixture({ index: false });
  token = fx.server.token;
  socketPath = fx.server.socketPath!;
});
afterAll(async () => {
  await fx?.cleanup();
});

describe('server API', () => {
  it('documents a fixed default port', () => {
    expect(DEFAULT_PORT).toBe(7627);
    expect(fx.server.memery.config.port).toBe(7627);
  });

  it('indexes a folder, streaming progress as server-sent events', async () => {
    const r = await raw({ port: fx.port, path: '/api/index', body: { folder: fx.dir }, headers: { [TOKEN_HEADER]: token } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(r.text);
    const progress = events.filter((e) => e.event === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.map((e) => e.data.phase)).toContain('encode');
    expect(progress.every((e) => e.data.folder === fx.dir)).toBe(true);
    const last = events.at(-1)!;
    expect(last.event).toBe('done');
    expect(last.data).toMatchObject({ folder: fx.dir, found: 8, new: 8, failed: 0 });
    const missing = await raw({ port: fx.port, path: '/api/index', body: { folder: join(fx.dir, 'nope') }, headers: { [TOKEN_HEADER]: token } });
    expect(missing.status).toBe(404);
    expect(missing.json().error.code).toBe('E_NOT_FOUND');
    const file = await raw({ port: fx.port, path: '/api/index', body: { folder: fx.files.red }, headers: { [TOKEN_HEADER]: token } });
    expect(file.status).toBe(400);
  });

  it('words in images: search mode, index ocr, the count of images with text in the status', async () => {
    const auth = { port: fx.port, headers: { [TOKEN_HEADER]: token } };
    const status = async () => (await raw({ ...auth, path: '/api/status' })).json<{ counts: { texts: number } }>().counts;
    expect((await status()).texts).toBe(0); // solid colours carry no words
    setImageText(fx.home, fx.files.white!, 'That was very\ncash money of you');
    expect((await status()).texts).toBe(1);
    const search = (body: object) => raw({ ...auth, path: '/api/search', body });
    type Hit = { path: string; score: number; text: string | null; match: { score: number; spans: Array<{ start: number; end: number }> } | null };
    const hybrid = (await search({ query: 'cash money', n: 8 })).json<{ results: Hit[] }>().results;
    expect(name(hybrid[0]!.path)).toBe('white');
    expect(hybrid[0]!.text).toBe('That was very\ncash money of you');
    expect(hybrid[0]!.match!.score).toBe(1);
    expect(hybrid.slice(1).every((r) => r.text === null && r.match === null)).toBe(true);
    const text = (await search({ query: 'cash money', n: 8, mode: 'text' })).json<{ results: Hit[] }>().results;
    expect(text.map((r) => name(r.path))).toEqual(['white']);
    const clip = (await search({ query: 'cash money', n: 8, mode: 'clip' })).json<{ results: Hit[] }>().results;
    expect(clip).toHaveLength(8);
    expect(clip.every((r) => r.match === null)).toBe(true);
    const bad = await search({ query: 'cash money', mode: 'words' });
    expect(bad.status).toBe(400);
    expect(bad.json().error.issues[0].path).toEqual(['mode']);

    // ocr: false reads no text in that run; the next run (the server's default) reads what it skipped.
    const more = join(fx.dir, '..', `${basename(fx.dir)}-ocr`);
    mkdirSync(more, { recursive: true });
    for (const c of ['red', 'blue']) await writeSolid(join(more, `${c}-big.png`), COLOURS[c]!, 120, 90);
    const index = async (body: object) => parseSse((await raw({ ...auth, path: '/api/index', body })).text).at(-1)!;
    const off = await index({ folder: more, ocr: false });
    expect(off.event).toBe('done');
    expect(off.data).toMatchObject({ new: 2, texts: 0 });
    const on = await index({ folder: more });
    expect(on.data).toMatchObject({ new: 0, unchanged: 2, texts: 2 });
    expect((await raw({ ...auth, path: '/api/index', body: { folder: more, ocr: 'yes' } })).status).toBe(400);
    await raw({ ...auth, path: '/api/forget', body: { folder: more } });
  });

  describe.each([
    ['TCP', () => ({ port: fx.port, token })],
    ['Unix socket', () => ({ socketPath })],
  ])('over %s', (_label, via: () => Pick<RawOptions, 'port' | 'socketPath' | 'token'>) => {
    it('searches: "red" ranks red.png first, for every colour word', async () => {
      for (const colour of Object.keys(COLOURS)) {
        const r = await raw({ ...via(), path: '/api/search', body: { query: colour, n: 3 } });
        expect(r.status, r.text).toBe(200);
        const { results, ms } = r.json<{ results: Array<{ path: string; score: number; id: number }>; ms: number }>();
        expect(name(results[0]!.path), colour).toBe(colour);
        expect(results).toHaveLength(3);
        expect(ms).toBeGreaterThanOrEqual(0);
      }
    });

    it('accepts query objects, negatives, threshold and folder filters', async () => {
      const white = await raw({ ...via(), path: '/api/search', body: { query: { text: 'white', negativeText: 'yellow' }, n: 8 } });
      const names = white.json().results.map((x: { path: string }) => name(x.path));
      expect(names[0]).toBe('white');
      expect(names.indexOf('yellow')).toBeGreaterThanOrEqual(3);
      const thr = await raw({ ...via(), path: '/api/search', body: { query: 'red', n: 8, threshold: 0.9 } });
      expect(thr.json().results.map((x: { path: string }) => name(x.path))).toEqual(['red']);
      const none = await raw({ ...via(), path: '/api/search', body: { query: 'red', folders: ['/nonexistent-folder'] } });
      expect(none.json().results).toEqual([]);
    });

    it('maps image queries given as id:<n> to the catalog file', async () => {
      const first = (await raw({ ...via(), path: '/api/search', body: { query: 'purple', n: 1 } })).json().results[0];
      const r = await raw({ ...via(), path: '/api/search', body: { query: { image: `id:${first.id}` }, n: 2 } });
      expect(r.status, r.text).toBe(200);
      expect(name(r.json().results[0].path)).toBe('purple');
      expect(r.json().results[0].score).toBeGreaterThan(0.99);
      const missing = await raw({ ...via(), path: '/api/search', body: { query: { image: 'id:987654' } } });
      expect(missing.status).toBe(404);
    });

    it('answers status with the library status and the server info', async () => {
      const r = await raw({ ...via(), path: '/api/status' });
      expect(r.status).toBe(200);
      const st = r.json();
      expect(st.home).toBe(fx.home);
      expect(st.counts.files).toBe(8);
      expect(st.folders.map((f: { path: string }) => f.path)).toEqual([fx.dir]);
      expect(st.server).toMatchObject({ name: 'memery', pid: process.pid, socket: socketPath, viaSocket: via().socketPath !== undefined });
    });

    it('serves thumbnails (JPEG) and files (with their content type) by id', async () => {
      const red = (await raw({ ...via(), path: '/api/search', body: { query: 'red', n: 1 } })).json().results[0];
      const t = await raw({ ...via(), path: `/api/thumb/${red.id}?size=64` });
      expect(t.status).toBe(200);
      expect(t.headers['content-type']).toBe('image/jpeg');
      expect([...t.body.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
      const f = await raw({ ...via(), path: `/api/file/${red.id}` });
      expect(f.status).toBe(200);
      expect(f.headers['content-type']).toBe('image/png');
      expect(f.body.equals(readFileSync(fx.files.red!))).toBe(true);
      expect(f.headers['content-disposition']).toMatch(/^inline; filename="red.png"/);
      const d = await raw({ ...via(), path: `/api/file/${red.id}?download=1` });
      expect(d.headers['content-disposition']).toMatch(/^attachment;/);
    });

    it('answers 404 for unknown ids and 400 (with the zod issue) for bad ids and bodies', async () => {
      expect((await raw({ ...via(), path: '/api/thumb/99999' })).status).toBe(404);
      expect((await raw({ ...via(), path: '/api/file/99999' })).status).toBe(404);
      const badId = await raw({ ...via(), path: '/api/file/abc' });
      expect(badId.status).toBe(400);
      expect(badId.json().error.issues[0].message).toMatch(/catalog file id/);
      const badSize = await raw({ ...via(), path: '/api/thumb/1?size=5000' });
      expect(badSize.status).toBe(400);
      expect(badSize.json().error.issues[0]).toMatchObject({ code: 'too_big', path: ['size'] });

      const cases: Array<[unknown, unknown[]]> = [
        [{}, ['query']],
        [{ query: '' }, ['query']],
        [{ query: 'red', n: 0 }, ['n']],
        [{ query: 'red', n: 'ten' }, ['n']],
        [{ query: 'red', threshold: 3 }, ['threshold']],
        [{ query: 'red', folders: ['relative/path'] }, ['folders', 0]],
        [{ query: 'red', extra: true }, []],
        [{ query: { weights: { text: 1 } } }, ['query']],
      ];
      for (const [body, path] of cases) {
        const r = await raw({ ...via(), path: '/api/search', body: body as object });
        expect(r.status, JSON.stringify(body)).toBe(400);
        const err = r.json().error;
        expect(err.code).toBe('E_USAGE');
        expect(Array.isArray(err.issues) && err.issues.length > 0, JSON.stringify(body)).toBe(true);
        expect(err.issues[0].path.slice(0, path.length)).toEqual(path);
        expect(typeof err.issues[0].message).toBe('string');
      }
      const notJson = await raw({ ...via(), path: '/api/search', body: '{oops', headers: { 'content-type': 'application/json' } });
      expect(notJson.status).toBe(400);
      const wrongType = await raw({ ...via(), path: '/api/search', body: '{"query":"red"}', headers: { 'content-type': 'text/plain' } });
      expect(wrongType.status).toBe(415);
      expect((await raw({ ...via(), path: '/api/search' })).status).toBe(405);
      expect((await raw({ ...via(), path: '/api/nothing' })).status).toBe(404);
    });
  });

  it('searches by an uploaded image (bytes), then deletes the upload', async () => {
    const r = await raw({
      port: fx.port,
      path: '/api/search-image?n=3',
      body: readFileSync(fx.files.orange!),
      headers: { 'content-type': 'image/png', [TOKEN_HEADER]: token },
    });
    expect(r.status, r.text).toBe(200);
    expect(name(r.json().results[0].path)).toBe('orange');
    const mixed = await raw({
      port: fx.port,
      path: '/api/search-image?n=8&negativeText=yellow',
      body: readFileSync(fx.files.white!),
      headers: { 'content-type': 'application/octet-stream', [TOKEN_HEADER]: token },
    });
    expect(name(mixed.json().results[0].path)).toBe('white');
    const notImage = await raw({ port: fx.port, path: '/api/search-image', body: 'hello', headers: { 'content-type': 'image/png', [TOKEN_HEADER]: token } });
    expect(notImage.status).toBe(415);
    const badParam = await raw({ port: fx.port, path: '/api/search-image?n=zero', body: readFileSync(fx.files.red!), headers: { 'content-type': 'image/png', [TOKEN_HEADER]: token } });
    expect(badParam.status).toBe(400);
    expect(badParam.json().error.issues[0].path).toEqual(['n']);
    let leftovers: string[] = [];
    try {
      leftovers = (await import('node:fs')).readdirSync(join(fx.home, 'tmp'));
    } catch {
      leftovers = [];
    }
    expect(leftovers).toEqual([]);
  });

  it('answers 200 concurrent searches correctly (TCP and socket)', async () => {
    const colours = Object.keys(COLOURS);
    for (const via of [{ port: fx.port, token }, { socketPath }] as Array<Pick<RawOptions, 'port' | 'socketPath' | 'token'>>) {
      // Over TCP one address may hold at most 64 connections (maxConnectionsPerPeer), so the client
      // keeps to 48, as a browser keeps to 6; the 200 requests are still all in flight at once.
      const agent = new Agent({ keepAlive: true, ...(via.port ? { maxSockets: 48 } : {}) });
      const times: number[] = [];
      const t0 = performance.now();
      const replies = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const colour = colours[i % colours.length]!;
          const start = performance.now();
          const r = await raw({ ...via, agent, path: '/api/search', body: { query: colour, n: 5 } });
          times.push(performance.now() - start);
          return { colour, r };
        }),
      );
      const wall = performance.now() - t0;
      agent.destroy();
      for (const { colour, r } of replies) {
        expect(r.status).toBe(200);
        expect(name(r.json().results[0].path)).toBe(colour);
      }
      times.sort((a, b) => a - b);
      const p50 = times[Math.floor(times.length * 0.5)]!;
      const p99 = times[Math.floor(times.length * 0.99)]!;
      console.log(
        `200 concurrent searches over ${via.socketPath ? 'the Unix socket' : 'TCP'}: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, all done in ${wall.toFixed(0)} ms`,
      );
      expect(p99).toBeLessThan(10_000);
    }
  });

  describe('ServerClient', () => {
    let client: ServerClient;
    beforeAll(async () => {
      client = (await findServer(fx.home))!;
    });
    afterAll(() => client?.close());

    it('finds the server of a home over its socket', async () => {
      expect(client).toBeDefined();
      expect(client.socketPath).toBe(socketPath);
      expect(await findServer(join(fx.home, 'elsewhere'))).toBeUndefined();
      const st = await client.status();
      expect(st.server.viaSocket).toBe(true);
      expect(await client.ping()).toMatchObject({ name: 'memery', home: fx.home, pid: process.pid, socket: socketPath, url: `http://127.0.0.1:${fx.port}/` });
      expect(JSON.stringify(await client.ping())).not.toContain(token);
    });

    it('searches, indexes with progress, reads files and forgets', async () => {
      expect(name((await client.search('green', { n: 2 }))[0]!.path)).toBe('green');
      expect(name((await client.search({ image: fx.files.blue! }, { n: 1 }))[0]!.path)).toBe('blue');
      expect(name((await client.searchImage(readFileSync(fx.files.yellow!), { n: 1 }))[0]!.path)).toBe('yellow');

      const extra = join(fx.dir, '..', `${basename(fx.dir)}-extra`);
      mkdirSync(extra, { recursive: true });
      await writeSolid(join(extra, 'magenta.png'), [255, 0, 255]);
      copyFileSync(fx.files.red!, join(extra, 'red-copy.png'));
      const phases: string[] = [];
      const summary = await client.index(extra, (p) => phases.push(p.phase));
      expect(summary).toMatchObject({ folder: extra, found: 2, new: 1, moved: 1 });
      expect(phases).toContain('encode');
      const magenta = (await client.search('magenta', { n: 1 }))[0]!;
      expect(name(magenta.path)).toBe('magenta');
      expect([...(await client.thumbnail(magenta.id, 32)).subarray(0, 2)]).toEqual([0xff, 0xd8]);
      expect((await client.file(magenta.id)).contentType).toBe('image/png');

      expect(await client.forget(extra)).toBe(2);
      expect((await client.search('magenta', { n: 10 })).some((r) => r.path.startsWith(extra))).toBe(false);
      await expect(client.forget(extra)).rejects.toMatchObject({ code: 'E_NOT_FOUND', status: 404 });
      await expect(client.thumbnail(magenta.id)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      await expect(client.index(join(extra, 'missing'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    });

    it('works over TCP with the token when the socket is not used', async () => {
      const { ServerClient } = await import('../ts/server/client.js');
      const tcp = new ServerClient({ url: fx.server.url, token });
      try {
        expect(name((await tcp.search('black', { n: 1 }))[0]!.path)).toBe('black');
        await expect(tcp.search({ image: fx.files.blue! })).rejects.toMatchObject({ status: 400 });
        expect(name((await tcp.searchImage(readFileSync(fx.files.blue!), { n: 1 }))[0]!.path)).toBe('blue');
      } finally {
        tcp.close();
      }
      const noToken = new ServerClient({ url: fx.server.url });
      try {
        await expect(noToken.forget(fx.dir)).rejects.toMatchObject({ status: 401 });
        await expect(noToken.search('red')).rejects.toMatchObject({ status: 401 });
        await expect(noToken.ping()).rejects.toMatchObject({ status: 401 });
      } finally {
        noToken.close();
      }
    });
  });
});


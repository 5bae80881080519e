/**
 * The Alfred workflow (alfred-workflow/): its info.plist (parses; connections resolve; the Script
 * Filter runs the bundled script the package contains), the script's output against a real
 * `memery serve` and against the CLI fallback (valid Script Filter JSON, the right image first,
 * queries passed verbatim), starting the server on demand, the index keyword's script, and the
 * packaged .alfredworkflow (info.plist at the root of the zip). The words in images (OCR, given to
 * one colour image with test/helpers/texts.ts): a snippet in the subtitle, ⇧ copies them (wired to the
 * clipboard in info.plist), ⌘C copies them, through the server, the CLI and `--format alfred`. "Find
 * similar memes" (the File and Universal Actions, and ⌃): a real meme from ../shared, indexed or a
 * copy outside the catalog, comes first. Icons: a result's `thumb`, else fetched once into the
 * workflow's cache (never into memery's home). Prints the per-keystroke latency
 * through the server (p50 of 30 runs of the script as a process) for the benchmark.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { inflateRawSync } from 'node:zlib';
import { parse as parsePlist, type PlistValue } from 'plist';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AlfredScriptFilterSchema, type AlfredScriptFilter } from '@memery/client/alfred-schema';
import { Memery } from '../ts/index.js';
import { startServer, type RunningServer } from '../ts/server/index.js';
import { CLI, CLI_BUILT } from './helpers/cli.js';
import { tempDir, writeColourSet } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';
import { setImageText } from './helpers/texts.js';
import { alfredIcon, alfredItem } from '@memery/client/alfred';
import { ROUTES, thumbRoute } from '@memery/client/protocol';
import { HAS_SHARED, ROOT, shared, SHARED_SKIP_REASON } from './helpers/shared.js';

const WF = join(ROOT, 'alfred-workflow');
const SEARCH = join(WF, 'scripts', 'search.mjs');
const INDEX = join(WF, 'scripts', 'index.mjs');
const ZSH = ['/bin/zsh', '/usr/bin/zsh'].find((p) => existsSync(p));
/** White's words (the colour images have none): no colour word in them. */
const WORDS = 'When the build passes\n{query} <b>cash money</b> {var:keyword} & "quotes"';
const METACHARS = `red; $(touch pwned) \`id\` "q" 'x' | & > out * ? ~ \\ $HOME {query} -n 1`;

type Dict = { [key: string]: PlistValue };
const temps: string[] = [];
function temp(prefix = 'memery-alfred-'): string {
  const d = tempDir(prefix);
  temps.push(d);
  return d;
}
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment Alfred would give the script: the workflow variables, nothing memery-ish inherited. */
function alfredEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(MEMERY_|memery_|folders$|node_path$|start_server$)/.test(k)) env[k] = v;
  return { ...env, start_server: '0', ...vars };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd = WF): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - t0 }),
    );
  });
}

/** Runs scripts/search.mjs as Alfred's zsh line does (node, the script, the query as one argument). */
async function searchScript(query: string, vars: Record<string, string>): Promise<AlfredScriptFilter & { raw: Run }> {
  const r = await run(process.execPath, [SEARCH, query], alfredEnv(vars));
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { ...AlfredScriptFilterSchema.parse(JSON.parse(r.stdout)), raw: r };
}

function plistOf(file: string): Dict {
  return parsePlist(readFileSync(file, 'utf8')) as Dict;
}
const objectsOf = (p: Dict): Dict[] => p.objects as Dict[];
const configOf = (o: Dict): Dict => (o.config ?? {}) as Dict;
const gridView = (p: Dict): Dict => objectsOf(p).find((o) => o.type === 'alfred.workflow.userinterface.grid')!;
const scriptFilter = (p: Dict): Dict => {
  const sfs = objectsOf(p).filter((o) => o.type === 'alfred.workflow.input.scriptfilter');
  expect(sfs).toHaveLength(1);
  return sfs[0]!;
};

/** `./scripts/<file>` references in a script text. */
function scriptRefs(script: string): string[] {
  return [...script.matchAll(/\.\/(scripts\/[\w.-]+)/g)].map((m) => m[1]!);
}

function expectResultItems(doc: AlfredScriptFilter, home?: string): void {
  expect(doc.skipknowledge).toBe(true);
  for (const it of doc.items.filter((i) => i.valid !== false)) {
    expect(it.type).toBe('file');
    expect(typeof it.arg).toBe('string');
    expect(it.uid).toBe(it.arg);
    expect(it.quicklookurl).toBe(it.arg);
    expect(it.title).toBe((it.arg as string).split('/').pop());
    // The score and folder, after a snippet of the image's words when it has some.
    expect(it.subtitle).toMatch(/^(\u201c[^\n]+\u201d · )?-?\d\.\d{3} · \S/);
    expect(it.icon?.path).toBeTruthy();
    if (home && it.icon?.type === undefined) {
      // memery's cached thumbnail (`thumb`), or one fetched into the workflow's cache (under home here).
      expect(it.icon!.path.startsWith(`${home}/`)).toBe(true);
      expect(readFileSync(it.icon!.path).subarray(0, 2).toString('hex')).toBe('ffd8'); // a JPEG
    }
    expect(Object.keys(it.mods ?? {})).toEqual(expect.arrayContaining(['cmd', 'alt', 'ctrl', 'shift']));
  }
}

const names = (doc: AlfredScriptFilter): string[] => doc.items.filter((i) => i.valid !== false).map((i) => i.title);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

describe('info.plist', () => {
  const plist = plistOf(join(WF, 'info.plist'));

  it('the plist parser reads what Alfred writes and rejects malformed XML', () => {
    expect(
      parsePlist(
        '<?xml version="1.0"?><!DOCTYPE plist><plist version="1.0"><dict><key>a</key><string> x &amp; &lt;y&gt; </string>' +
          '<key>b</key><array><integer>-3</integer><real>1.5</real><true/><false/><string/></array><key>c</key><data>aGk=</data><key>d</key><dict/></dict></plist>',
      ),
    ).toEqual({ a: ' x & <y> ', b: [-3, 1.5, true, false, ''], c: new Uint8Array(Buffer.from('hi')), d: {} });
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {}); // xmldom logs before it throws
    expect(() => parsePlist('<plist><dict><key>a</key><string>x</dict></plist>')).toThrow(/mismatch/);
    quiet.mockRestore();
    expect(() => parsePlist('<plist><dict><key>a</key><key>b</key></dict></plist>')).toThrow(/alternate/);
    expect(() => parsePlist('<plist><dict><key>a</key><bogus/></dict></plist>')).toThrow(/bogus/);
  });

  it('holds exactly the data of workflow() in tools/info-plist.mjs (nothing dropped or mistyped in the XML)', async () => {
    const gen = (await import('../alfred-workflow/tools/info-plist.mjs')) as { workflow: (v: string) => unknown; packageVersion: () => string };
    expect(plist).toStrictEqual(gen.workflow(gen.packageVersion()));
  });

  it('parses, with the workflow metadata Alfred needs', () => {
    expect(plist.bundleid).toMatch(/^[\w.-]+$/);
    expect(plist.name).toBe('memery');
    expect(plist.version).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const uids = objectsOf(plist).map((o) => o.uid as string);
    expect(new Set(uids).size).toBe(uids.length);
    for (const o of objectsOf(plist)) {
      expect(o.type).toMatch(/^alfred\.workflow\.\w+\.\w+$/);
      expect(o.uid).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
      expect(typeof o.version).toBe('number');
    }
  });

  it('is what alfred-workflow/tools/info-plist.mjs generates (run `npm run build:alfred` after editing it)', async () => {
    const gen = (await import('../alfred-workflow/tools/info-plist.mjs')) as { infoPlistXml: () => string };
    expect(readFileSync(join(WF, 'info.plist'), 'utf8')).toBe(gen.infoPlistXml());
  });

  it('every connection leaves and reaches an existing object', () => {
    const uids = new Set(objectsOf(plist).map((o) => o.uid as string));
    const connections = plist.connections as { [source: string]: Dict[] };
    expect(Object.keys(connections).length).toBeGreaterThan(5);
    for (const [source, list] of Object.entries(connections)) {
      expect(uids.has(source), `connection source ${source}`).toBe(true);
      for (const c of list) {
        expect(uids.has(c.destinationuid as string), `connection ${source} -> ${String(c.destinationuid)}`).toBe(true);
        expect(typeof c.modifiers).toBe('number');
      }
    }
    for (const uid of Object.keys(plist.uidata as Dict)) expect(uids.has(uid), `uidata ${uid}`).toBe(true);
  });

  it('the Script Filter: configurable keyword, Alfred does not filter, argument required, argv, zsh, terminate the previous run', () => {
    const c = configOf(scriptFilter(plist));
    expect(c.keyword).toBe('{var:keyword}');
    expect(c.alfredfiltersresults).toBe(false);
    expect(c.argumenttype).toBe(0);
    expect(c.scriptargtype).toBe(1); // the query as "$1", not {query} in the script text
    expect(c.type).toBe(11); // /bin/zsh
    expect(c.queuemode).toBe(2); // terminate the previous script
    expect(c.queuedelaymode).toBe(0);
    expect(c.script).toMatch(/exec "\$node" \.\/scripts\/search\.mjs "\$1"$/m);
    expect(c.script).not.toContain('{query}');
  });

  it('every script an object runs is in alfred-workflow/scripts', () => {
    const refs = objectsOf(plist).flatMap((o) => scriptRefs(String(configOf(o).script ?? '')));
    expect(refs).toEqual(expect.arrayContaining(['scripts/search.mjs', 'scripts/index.mjs', 'scripts/find-node.zsh', 'scripts/copy-image.js']));
    for (const ref of refs) expect(existsSync(join(WF, ref)), ref).toBe(true);
    for (const o of objectsOf(plist)) {
      const c = configOf(o);
      if (typeof c.script === 'string') {
        expect(c.scriptargtype, `${String(o.type)} passes its input as argv`).toBe(1);
        expect(c.script).not.toContain('{query}');
      }
    }
  });

  it('↩ copies the image as a file, ⌘ reveals, ⌥ copies the path, ⌃ reruns the search for similar images', () => {
    const byUid = new Map(objectsOf(plist).map((o) => [o.uid as string, o]));
    const sf = scriptFilter(plist);
    const out = (plist.connections as { [s: string]: Dict[] })[sf.uid as string]!;
    const to = (mod: number) => byUid.get(out.find((c) => c.modifiers === mod)!.destinationuid as string)!;
    expect(String(configOf(to(0)).script)).toContain('osascript -l JavaScript ./scripts/copy-image.js "$1"');
    expect(readFileSync(join(WF, 'scripts', 'copy-image.js'), 'utf8')).toMatch(/public\.file-url/);
    expect(to(1048576).type).toBe('alfred.workflow.action.revealfile');
    expect(to(524288).type).toBe('alfred.workflow.output.clipboard');
    const call = to(262144);
    expect(call.type).toBe('alfred.workflow.output.callexternaltrigger');
    const trigger = objectsOf(plist).find((o) => o.type === 'alfred.workflow.trigger.external' && configOf(o).triggerid === configOf(call).externaltriggerid)!;
    expect((plist.connections as { [s: string]: Dict[] })[trigger.uid as string]!.map((c) => c.destinationuid)).toEqual([sf.uid]);
    expect(to(8388608).type).toBe('alfred.workflow.action.script'); // fn: the grid
    // ⇧: the item's ⇧ arg (the text in the image) to the clipboard, placeholders in it left alone.
    const copyText = to(131072);
    expect(copyText.type).toBe('alfred.workflow.output.clipboard');
    expect(configOf(copyText).clipboardtext).toBe('{query}');
    expect(configOf(copyText).ignoredynamicplaceholders).toBe(true);
    const grid = objectsOf(plist).find((o) => o.type === 'alfred.workflow.userinterface.grid')!;
    const fromGrid = (plist.connections as { [s: string]: Dict[] })[grid.uid as string]!;
    expect(fromGrid.find((c) => c.modifiers === 131072)?.destinationuid).toBe(copyText.uid);
  });

  it('who made it and where it lives: from package.json’s repository (written once)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { repository: { url: string }; homepage: string };
    const web = pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
    expect(plist.webaddress).toBe(web);
    expect(pkg.homepage.startsWith(web)).toBe(true);
    expect(plist.createdby).toBe(new URL(web).pathname.split('/')[1]);
    expect(readFileSync(join(WF, 'tools', 'info-plist.mjs'), 'utf8')).not.toContain(web);
  });

  it('“Find similar memes”: a File Action on images and a Universal Action on files rerun the search with the file as its query', () => {
    const byUid = new Map(objectsOf(plist).map((o) => [o.uid as string, o]));
    const connections = plist.connections as { [s: string]: Dict[] };
    const sf = scriptFilter(plist);
    const fileAction = objectsOf(plist).find((o) => o.type === 'alfred.workflow.trigger.action' && configOf(o).name === 'Find similar memes')!;
    expect(configOf(fileAction).filetypes).toEqual(['public.image']);
    expect(configOf(fileAction).acceptsmulti).toBe(0);
    const universal = objectsOf(plist).find((o) => o.type === 'alfred.workflow.trigger.universalaction')!;
    expect(configOf(universal)).toMatchObject({ name: 'Find similar memes', acceptsfiles: true, acceptstext: false, acceptsurls: false, acceptsmulti: 0 });
    // Both go where ⌃ goes: the external trigger that opens the search Script Filter with their input as the query.
    const ctrl = connections[sf.uid as string]!.find((c) => c.modifiers === 262144)!.destinationuid;
    for (const action of [fileAction, universal]) {
      const out = connections[action.uid as string]!;
      expect(out.map((c) => c.destinationuid)).toEqual([ctrl]);
      const call = byUid.get(ctrl as string)!;
      expect(configOf(call).passinputasargument).toBe(true);
      const trigger = objectsOf(plist).find((o) => o.type === 'alfred.workflow.trigger.external' && configOf(o).triggerid === configOf(call).externaltriggerid)!;
      expect(connections[trigger.uid as string]!.map((c) => c.destinationuid)).toEqual([sf.uid]);
    }
    expect(connections[gridView(plist).uid as string]!.find((c) => c.modifiers === 262144)?.destinationuid).toBe(ctrl); // ⌃ in the grid too
  });

  it('alfredItem (the one builder): the words in a subtitle snippet, ⇧ and ⌘C copy them, ⌘L shows them', () => {
    const text = 'My grandpa who knows nothing about\nvideo games but loves me very much\nand wants to relate to me:\nARE YA WINNING?';
    const start = text.indexOf('ARE YA');
    const r = { id: 7, path: '/m/Wholesome-Meme-1.jpg', score: 0.5, text, match: { score: 1, spans: [{ start, end: start + 14 }] } };
    const item = alfredItem(r, { icon: { path: 'i.jpg' }, actions: { query: 'are ya winning', grid: false } });
    expect(item.subtitle).toMatch(/^\u201c.*ARE YA WINNING.*\u201d · 0\.500 · \/m$/);
    expect(item.subtitle).not.toContain('\n');
    expect(item.mods!.shift).toMatchObject({ arg: text });
    expect(item.text).toEqual({ copy: text, largetype: text });
    expect(item.arg).toBe(r.path);
    const plain = alfredItem({ id: 8, path: '/m/red.png', score: 0.25, text: null, match: null }, { icon: { path: 'i.jpg' }, actions: { query: 'x', grid: true } });
    expect(plain.subtitle).toBe('0.250 · /m');
    expect(plain.mods!.shift).toEqual({ valid: false, subtitle: 'No text found in this image' });
    expect(plain.text).toEqual({ copy: '/m/red.png', largetype: 'red.png' });
    expect(AlfredScriptFilterSchema.safeParse({ items: [item, plain] }).success).toBe(true);
  });

  it('alfredItem’s icon: the one given, else the result’s stored thumbnail (`thumb`) while it is there, else the file’s own icon', () => {
    const r = { id: 3, path: '/m/cat.png', score: 0.5 };
    const stored = join(temp(), '3.jpg');
    writeFileSync(stored, 'jpeg');
    expect(alfredItem({ ...r, thumb: stored }).icon).toEqual({ path: stored });
    expect(alfredItem({ ...r, thumb: '/h/thumbs/gone.jpg' }).icon).toEqual({ type: 'fileicon', path: '/m/cat.png' });
    expect(alfredItem({ ...r, thumb: '/h/thumbs/gone.jpg' }, { icon: { path: '/c/3.jpg' } }).icon).toEqual({ path: '/c/3.jpg' });
    expect(alfredItem({ ...r, thumb: null }).icon).toEqual({ type: 'fileicon', path: '/m/cat.png' });
    expect(alfredItem(r).icon).toEqual({ type: 'fileicon', path: '/m/cat.png' });
    expect(alfredIcon({ path: '/m/cat.png', thumb: '' })).toEqual({ type: 'fileicon', path: '/m/cat.png' });
  });

  it('shows results in a Grid View fed by the same script, keeping memery’s order', () => {
    const grid = objectsOf(plist).find((o) => o.type === 'alfred.workflow.userinterface.grid')!;
    expect(configOf(grid).fixedorder).toBe(true);
    const scripts = objectsOf(plist).filter((o) => String(configOf(o).script ?? '').includes('memery_view=grid'));
    expect(scripts).toHaveLength(1);
    expect(scriptRefs(String(configOf(scripts[0]!).script))).toContain('scripts/search.mjs');
  });

  it('the configuration sheet: keywords, folders, memery path, node path, result count', () => {
    const vars = Object.fromEntries((plist.userconfigurationconfig as Dict[]).map((v) => [v.variable as string, v]));
    for (const v of ['keyword', 'index_keyword', 'folders', 'memery_path', 'node_path', 'result_count']) expect(vars[v], v).toBeDefined();
    expect(configOf(vars.keyword!).default).toBe('meme');
    expect(configOf(vars.index_keyword!).default).toBe('memeindex');
    expect(vars.folders!.type).toBe('textarea');
    const index = objectsOf(plist).find((o) => configOf(o).keyword === '{var:index_keyword}')!;
    const downstream = (plist.connections as { [s: string]: Dict[] })[index.uid as string]!.map((c) => objectsOf(plist).find((o) => o.uid === c.destinationuid)!);
    const indexScript = downstream.find((o) => o.type === 'alfred.workflow.action.script')!;
    expect(scriptRefs(String(configOf(indexScript).script))).toContain('scripts/index.mjs');
    expect((plist.connections as { [s: string]: Dict[] })[indexScript.uid as string]!.map((c) => objectsOf(plist).find((o) => o.uid === c.destinationuid)!.type)).toEqual([
      'alfred.workflow.output.notification',
    ]);
  });
});

describe.skipIf(!ZSH)(`the Script Filter's zsh line${ZSH ? '' : ' (zsh not installed)'}`, () => {
  const script = String(configOf(scriptFilter(plistOf(join(WF, 'info.plist')))).script);
  let home: string;
  let server: Server;
  const bodies: unknown[] = [];

  beforeAll(async () => {
    home = temp('memery-alfred-fake-');
    // A stand-in server on the socket: records what the script sends.
    server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/api/search') {
          bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results: [], ms: 0 }));
        } else {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ folders: [] }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(join(home, 'memery.sock'), r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const zsh = (query: string, vars: Record<string, string>) => run(ZSH!, ['--no-rcs', '-c', script, 'alfred-script-filter', query], alfredEnv(vars));

  it('finds node, runs scripts/search.mjs and passes the query verbatim', async () => {
    const r = await zsh(METACHARS, { node_path: process.execPath, MEMERY_HOME: home, folders: '/tmp' });
    expect(r.stderr).toBe('');
    const doc = AlfredScriptFilterSchema.parse(JSON.parse(r.stdout));
    expect(doc.items[0]!.title).toMatch(/^No images match/);
    expect(bodies.at(-1)).toEqual({ query: { text: METACHARS.trim() }, n: 20, folders: ['/tmp'] });
    expect(existsSync(join(WF, 'pwned'))).toBe(false);
  });

  it('says which node was missing, as an Alfred item', async () => {
    const r = await zsh('red', { node_path: '/nonexistent/node', MEMERY_HOME: home });
    const doc = AlfredScriptFilterSchema.parse(JSON.parse(r.stdout));
    expect(doc.items).toHaveLength(1);
    expect(doc.items[0]!.title).toContain('Node.js not found at “/nonexistent/node”');
    expect(doc.items[0]!.subtitle).toContain('Node path');
    expect(doc.items[0]!.valid).toBe(false);
  });
});

describe('the query', () => {
  it('text, id:<n>, or an image’s path (spaces allowed), each with words after it to steer', async () => {
    const { parseQuery } = (await import('../alfred-workflow/scripts/search.mjs')) as { parseQuery: (q: string) => unknown };
    const dir = join(temp(), 'my memes');
    mkdirSync(dir);
    const file = join(dir, 'a cat 2.png');
    writeFileSync(file, 'x');
    expect(parseQuery('  a cat in a box ')).toEqual({ text: 'a cat in a box' });
    expect(parseQuery('id:42')).toEqual({ image: 'id:42' });
    expect(parseQuery('id:42 in the snow')).toEqual({ image: 'id:42', text: 'in the snow' });
    expect(parseQuery(file)).toEqual({ image: file });
    expect(parseQuery(`${file}  in the snow`)).toEqual({ image: file, text: 'in the snow' });
    expect(parseQuery(`${dir} cat`)).toEqual({ text: `${dir} cat` }); // a folder is no image
    expect(parseQuery('/nonexistent/cat.png dog')).toEqual({ text: '/nonexistent/cat.png dog' });
    expect(parseQuery('   ')).toBeUndefined();
  });
});

describe('icons: the thumbnail memery cached (`thumb`), else fetched once into the workflow’s cache', () => {
  let home: string;
  let server: Server;
  const requests: string[] = [];
  const JPEG = Buffer.from('ffd8ffe000104a46494600', 'hex');
  let thumb: string;

  beforeAll(async () => {
    home = temp('memery-alfred-thumbs-');
    thumb = join(home, 'cached-by-memery.jpg');
    writeFileSync(thumb, JPEG);
    const result = (id: number, extra: object) => ({ id, path: `/pics/${id}.png`, score: 1 - id / 10, width: 8, height: 8, bytes: 10, mtime: 1000 + id, ...extra });
    // A stand-in server: one result with `thumb`, one without (a server from before the thumbnail
    // store), one whose thumb file is gone, one with none stored yet (null).
    server = createHttpServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        if (req.url === ROUTES.search) {
          const results = [result(1, { thumb }), result(2, {}), result(3, { thumb: join(home, 'gone.jpg') }), result(4, { thumb: null })];
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results, ms: 1 }));
        } else if (req.url?.startsWith(ROUTES.thumb)) {
          res.writeHead(200, { 'content-type': 'image/jpeg' }).end(JPEG);
        } else {
          res.writeHead(404).end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(join(home, 'memery.sock'), r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('uses `thumb` as it is, and fetches GET /api/thumb/:id only for results without one', async () => {
    const cache = join(home, 'alfred-cache');
    const doc = await searchScript('cat', { MEMERY_HOME: home, alfred_workflow_cache: cache });
    expect(doc.variables?.memery_source).toBe('server');
    const fetched = (id: number) => ({ path: join(cache, 'thumbs', `${id}-${1000 + id}.jpg`) });
    expect(doc.items.map((i) => i.icon)).toEqual([{ path: thumb }, fetched(2), fetched(3), fetched(4)]);
    expect(readFileSync(join(cache, 'thumbs', '2-1002.jpg'))).toEqual(JPEG);
    expect(requests.filter((r) => r.includes(ROUTES.thumb)).sort()).toEqual([2, 3, 4].map((id) => `GET ${thumbRoute(id)}`));
    expect(existsSync(join(home, 'thumbs'))).toBe(false); // nothing of the workflow's in memery's home
    // Fetched once: the next keystroke reads the cache.
    requests.length = 0;
    await searchScript('cats', { MEMERY_HOME: home, alfred_workflow_cache: cache });
    expect(requests).toEqual([`POST ${ROUTES.search}`]);
  });
});

describe('against a real memery server', () => {
  let server: RunningServer;
  let home: string;
  let imgs: string;
  let files: Record<string, string>;

  beforeAll(async () => {
    home = temp('memery-alfred-home-');
    imgs = temp('memery-alfred-imgs-');
    files = await writeColourSet(imgs);
    server = await startServer({ home, port: 0, memery: { modelDir: COLOUR_HF }, log: () => undefined });
    await server.memery.index(imgs);
  });
  afterAll(async () => {
    await server?.close();
  });

  const vars = () => ({ MEMERY_HOME: home, folders: imgs, alfred_workflow_cache: join(home, 'alfred-cache') });

  it('answers a text query: valid Script Filter JSON, red.png first, cached JPEG thumbnails', async () => {
    const doc = await searchScript('red', vars());
    expect(doc.variables?.memery_source).toBe('server');
    expect(doc.rerun).toBeUndefined();
    expect(names(doc)[0]).toBe('red.png');
    expect(names(doc)).toHaveLength(8);
    expectResultItems(doc, home);
    expect(doc.items[0]!.arg).toBe(files.red);
    // Alfred's `cache` is one answer per Script Filter, whatever is typed: a per-query search must not set it.
    expect(doc.cache).toBeUndefined();
  });

  it('⌃ (similar images) gives id:<n>, which searches by that image', async () => {
    const first = await searchScript('blue', vars());
    const ctrl = first.items[0]!.mods!.ctrl!.arg as string;
    expect(ctrl).toMatch(/^id:\d+$/);
    const similar = await searchScript(ctrl, vars());
    expect(names(similar)[0]).toBe('blue.png');
    const byPath = await searchScript(files.green!, vars());
    expect(names(byPath)[0]).toBe('green.png');
  });

  it('passes a query full of shell metacharacters through unharmed', async () => {
    const doc = await searchScript(METACHARS, vars());
    expect(doc.variables?.memery_source).toBe('server');
    expectResultItems(doc, home);
    expect(names(doc)[0]).toBe('red.png');
    expect(existsSync(join(WF, 'pwned'))).toBe(false);
  });

  it('shows the words in an image: snippet in the subtitle, ⇧ and ⌘C copy them', async () => {
    setImageText(home, files.white!, WORDS);
    const doc = await searchScript('cash money', vars());
    expect(doc.variables?.memery_source).toBe('server');
    expectResultItems(doc, home);
    const white = doc.items[0]!;
    expect(white.title).toBe('white.png');
    expect(white.subtitle).toMatch(/^\u201c.*cash money.*\u201d · \d\.\d{3} · \S/);
    expect(white.mods!.shift!.arg).toBe(WORDS);
    expect(white.text!.copy).toBe(WORDS);
    const red = doc.items.find((i) => i.title === 'red.png')!;
    expect(red.mods!.shift!.valid).toBe(false);
    expect(red.text!.copy).toBe(files.red);
  });

  it('honours result_count, and searches every indexed folder when none is configured', async () => {
    const three = await searchScript('yellow', { ...vars(), result_count: '3' });
    expect(names(three)).toHaveLength(3);
    expect(names(three)[0]).toBe('yellow.png');
    const all = await searchScript('yellow', { MEMERY_HOME: home });
    expect(names(all)[0]).toBe('yellow.png');
  });

  it('says when a configured folder is not indexed', async () => {
    const other = temp('memery-alfred-unindexed-');
    const doc = await searchScript('red', { MEMERY_HOME: home, folders: other });
    expect(doc.items.some((i) => i.valid === false && i.title.includes('is not indexed yet'))).toBe(true);
  });

  it('the index keyword’s script indexes through the server and reports a summary', async () => {
    const r = await run(process.execPath, [INDEX], alfredEnv(vars()));
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/: 8 images \(no changes\) in \d+\.\d s$/);
    const missing = await run(process.execPath, [INDEX, '/nonexistent/folder'], alfredEnv(vars()));
    expect(missing.stdout.trim()).toBe('Not a folder: /nonexistent/folder');
  });

  it('per-keystroke latency through the server (p50 of 30 runs of the script as a process)', async () => {
    await searchScript('red', vars()); // thumbnails cached, as after the first keystroke
    const queries = ['r', 're', 'red', 'red c', 'red ca', 'red car', 'a', 'a b', 'a bl', 'a blu', 'a blue', 'a blue s', 'a blue sk', 'a blue sky', 'g'];
    const ms: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await run(process.execPath, [SEARCH, queries[i % queries.length]!], alfredEnv(vars()));
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).variables.memery_source).toBe('server');
      ms.push(r.ms);
    }
    const base: number[] = [];
    for (let i = 0; i < 10; i++) base.push((await run(process.execPath, ['-e', '0'], alfredEnv({}))).ms);
    // The search request alone, from a warm process (what the script adds on top of node's start).
    const roundtrip: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const body = JSON.stringify({ query: { text: queries[i % queries.length] }, n: 20, folders: [imgs] });
        const req = httpRequest(
          { socketPath: join(home, 'memery.sock'), method: 'POST', path: '/api/search', headers: { 'content-type': 'application/json', host: 'localhost' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve());
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      roundtrip.push(performance.now() - t0);
    }
    const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
    const result = {
      name: 'alfred-keystroke-server',
      runs: ms.length,
      p50_ms: Math.round(pct(ms, 50) * 10) / 10,
      p90_ms: Math.round(pct(ms, 90) * 10) / 10,
      node_startup_p50_ms: Math.round(pct(base, 50) * 10) / 10,
      socket_search_p50_ms: Math.round(pct(roundtrip, 50) * 10) / 10,
      images: 8,
      note: 'scripts/search.mjs as a process (node start, Unix-socket search, cached thumbnails), colour-CLIP test model',
    };
    console.log(
      `[alfred] per-keystroke latency through the server: p50 ${result.p50_ms} ms, p90 ${result.p90_ms} ms over ${result.runs} runs (node startup alone: p50 ${result.node_startup_p50_ms} ms; the search request from a warm process: p50 ${result.socket_search_p50_ms} ms)`,
    );
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'alfred-keystroke.json'), `${JSON.stringify(result, null, 2)}\n`);
  });
});

describe.skipIf(!HAS_SHARED)(`“Find similar memes” with real memes${HAS_SHARED ? '' : ` (${SHARED_SKIP_REASON})`}`, () => {
  const MEMES = shared('corpus', 'memes');
  // A meme whose look (as the colour test model sees it) is far from every other one's.
  const MEME = join(MEMES, 'Wholesome-Meme-28.jpg');
  let server: RunningServer;
  let home: string;

  beforeAll(async () => {
    home = temp('memery-alfred-memes-');
    server = await startServer({ home, port: 0, memery: { modelDir: COLOUR_HF }, log: () => undefined });
    const summary = await server.memery.index(MEMES, { ocr: false });
    expect(summary.found).toBe(readdirSync(MEMES).length);
  });
  afterAll(async () => {
    await server?.close();
  });

  // No folders configured: everything memery has indexed, as the actions search.
  const vars = () => ({ MEMERY_HOME: home, alfred_workflow_cache: join(home, 'alfred-cache') });

  it('the actions’ search (their file as the query): an indexed meme comes first, then ⌃ on it (id:<n>) finds it first again', async () => {
    const doc = await searchScript(MEME, vars());
    expect(doc.variables?.memery_source).toBe('server');
    expectResultItems(doc, home);
    expect(doc.items[0]!.arg).toBe(MEME);
    expect(doc.items[0]!.subtitle).toMatch(/^1\.000 · /);
    const ctrl = doc.items[0]!.mods!.ctrl!.arg as string;
    expect(ctrl).toMatch(/^id:\d+$/);
    const again = await searchScript(ctrl, vars());
    expect(again.items[0]!.arg).toBe(MEME);
  });

  it('an image memery has not indexed (a copy elsewhere, spaces in its path) finds the indexed original first; words after it steer', async () => {
    const dir = join(temp(), 'Saved from chat');
    mkdirSync(dir);
    const copy = join(dir, 'copy of meme.jpg');
    copyFileSync(MEME, copy);
    const doc = await searchScript(copy, vars());
    expect(doc.variables?.memery_source).toBe('server');
    expect(doc.items[0]!.arg).toBe(MEME);
    const steered = await searchScript(`${copy} a red car`, vars());
    expect(steered.variables?.memery_source).toBe('server');
    expect(steered.items.filter((i) => i.valid !== false).length).toBeGreaterThan(0);
  });

  it('a file that is no image says why', async () => {
    const doc = await searchScript(join(MEMES, 'corrupted-file.jpeg'), vars());
    expect(doc.items).toHaveLength(1);
    expect(doc.items[0]!.valid).toBe(false);
    expect(doc.items[0]!.title).toBe('memery could not search');
    expect(doc.items[0]!.subtitle).toMatch(/decode/i);
  });
});

describe.skipIf(!CLI_BUILT)(`without a server: the CLI fallback${CLI_BUILT ? '' : ' (dist/ts/cli/main.js missing: run `npm run build:ts`)'}`, () => {
  let home: string;
  let imgs: string;

  beforeAll(async () => {
    home = temp('memery-alfred-clihome-');
    imgs = temp('memery-alfred-cliimgs-');
    await writeColourSet(imgs);
  });

  const vars = () => ({
    MEMERY_HOME: home,
    MEMERY_MODEL_DIR: COLOUR_HF,
    folders: imgs,
    memery_path: CLI,
    alfred_workflow_cache: join(home, 'alfred-cache'),
  });

  it('the index keyword’s script runs `memery index --json` and reports a summary', async () => {
    const r = await run(process.execPath, [INDEX], alfredEnv(vars()));
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/: 8 images \(8 new\) in \d+\.\d s$/);
  });

  it('answers through `memery search --json --no-index`: valid, red.png first, no rerun', async () => {
    const doc = await searchScript('red', vars());
    expect(doc.variables?.memery_source).toBe('cli');
    expect(doc.rerun).toBeUndefined();
    expect(names(doc)[0]).toBe('red.png');
    expectResultItems(doc, home);
    // ⌃ gives the path here (no ids without the server); it searches by that image.
    const byImage = await searchScript(doc.items[2]!.mods!.ctrl!.arg as string, vars());
    expect(names(byImage)[0]).toBe(doc.items[2]!.title);
  });

  it('“Find similar memes” on an image outside the catalog: `--image FILE`, the indexed original first', async () => {
    const dir = join(temp(), 'Saved from chat');
    mkdirSync(dir);
    const copy = join(dir, 'copy of blue.png');
    copyFileSync(join(imgs, 'blue.png'), copy);
    const doc = await searchScript(copy, vars());
    expect(doc.variables?.memery_source).toBe('cli');
    expect(doc.items[0]!.arg).toBe(join(imgs, 'blue.png'));
  });

  it('shows the words in an image through the CLI too, and `memery search --format alfred` builds the same items', async () => {
    setImageText(home, join(imgs, 'white.png'), WORDS);
    const doc = await searchScript('cash money', vars());
    expect(doc.variables?.memery_source).toBe('cli');
    expect(doc.items[0]!.title).toBe('white.png');
    expect(doc.items[0]!.subtitle).toMatch(/^\u201c.*cash money.*\u201d · \d\.\d{3} · \S/);
    expect(doc.items[0]!.mods!.shift!.arg).toBe(WORDS);
    const cli = await run(process.execPath, [CLI, 'search', imgs, 'cash money', '--format', 'alfred', '--no-index', '-n', '3'], {
      ...process.env,
      MEMERY_HOME: home,
      MEMERY_MODEL_DIR: COLOUR_HF,
    }, ROOT);
    expect(cli.code, cli.stderr).toBe(0);
    const out = AlfredScriptFilterSchema.parse(JSON.parse(cli.stdout));
    expect(out.items[0]!.title).toBe('white.png');
    expect(out.items[0]!.subtitle).toMatch(/^\u201c.*cash money.*\u201d · \d\.\d{3} · /);
    expect(out.items[0]!.text).toEqual({ copy: WORDS, largetype: WORDS });
  });

  it('passes a query with shell metacharacters to memery as one argument, verbatim', async () => {
    const doc = await searchScript(METACHARS, vars());
    expect(doc.variables?.memery_source).toBe('cli');
    expect(names(doc)[0]).toBe('red.png');
    // And exactly that argv, as a stand-in memery records it.
    const log = join(temp(), 'argv.json');
    const fake = join(temp(), 'fake-memery.mjs');
    writeFileSync(fake, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)));\nprocess.stdout.write('{"results":[]}');\n`);
    const r = await searchScript(METACHARS, { ...vars(), memery_path: fake });
    expect(r.items[0]!.title).toMatch(/^No images match/);
    expect(JSON.parse(readFileSync(log, 'utf8'))).toEqual(['search', imgs, '--json', '--no-index', '-n', '20', '--', METACHARS.trim()]);
    expect(existsSync(join(WF, 'pwned'))).toBe(false);
  });

  it('stops the memery it started when Alfred terminates the run (the next keystroke)', async () => {
    const dir = temp();
    const pidFile = join(dir, 'pid');
    const fake = join(dir, 'slow-memery.mjs');
    writeFileSync(fake, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(pidFile)}, String(process.pid));\nsetTimeout(() => {}, 60_000);\n`);
    const child = spawn(process.execPath, [SEARCH, 'red'], { cwd: WF, env: alfredEnv({ ...vars(), memery_path: fake }), stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const until = Date.now() + 10_000;
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8') === '') {
      expect(Date.now()).toBeLessThan(until);
      await new Promise((r) => setTimeout(r, 50));
    }
    const pid = Number(readFileSync(pidFile, 'utf8'));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    const gone = Date.now() + 5_000;
    let alive = true;
    while (alive && Date.now() < gone) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 50));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  });

  it('says clearly when memery cannot be found', async () => {
    const doc = await searchScript('red', { ...vars(), memery_path: '/nonexistent/memery' });
    expect(doc.items).toHaveLength(1);
    expect(doc.items[0]!.title).toBe('memery not found');
    expect(doc.items[0]!.subtitle).toContain('/nonexistent/memery');
    expect(doc.items[0]!.subtitle).toContain('memery path');
  });

  it('starts `memery serve` in the background, reruns until it answers, then uses it', async () => {
    const port = await freePort();
    const v = { ...vars(), MEMERY_PORT: String(port), start_server: '1' };
    const first = await searchScript('red', v);
    expect(first.variables?.memery_source).toBe('cli');
    expect(first.rerun).toBe(1);
    expect(names(first)[0]).toBe('red.png');
    let pid: number | undefined;
    try {
      let doc: AlfredScriptFilter | undefined;
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        try {
          pid ??= JSON.parse(readFileSync(join(home, 'server.json'), 'utf8')).pid as number;
        } catch {
          /* not yet */
        }
        if (existsSync(join(home, 'memery.sock'))) {
          doc = await searchScript('red', v);
          if (doc.variables?.memery_source === 'server') break;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(doc?.variables?.memery_source, readFileSync(join(home, 'alfred-cache', 'serve.log'), 'utf8')).toBe('server');
      expect(doc!.rerun).toBeUndefined();
      expect(names(doc!)[0]).toBe('red.png');
      expectResultItems(doc!, home);
    } finally {
      pid ??= JSON.parse(readFileSync(join(home, 'server.json'), 'utf8')).pid as number;
      process.kill(pid, 'SIGTERM');
      const until = Date.now() + 15_000;
      while (Date.now() < until && existsSync(join(home, 'server.json'))) await new Promise((r) => setTimeout(r, 100));
    }
  });
});

describe('the packaged workflow', () => {
  interface Entry {
    name: string;
    method: number;
    compressedSize: number;
    size: number;
    crc: number;
    offset: number;
  }

  /** The central directory of a zip (no zip64, as ours never needs it). */
  function centralDirectory(zip: Buffer): Entry[] {
    let eocd = -1;
    for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--) {
      if (zip.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    expect(eocd, 'end of central directory record').toBeGreaterThanOrEqual(0);
    const count = zip.readUInt16LE(eocd + 10);
    let p = zip.readUInt32LE(eocd + 16);
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) {
      expect(zip.readUInt32LE(p)).toBe(0x02014b50);
      const nameLen = zip.readUInt16LE(p + 28);
      const extraLen = zip.readUInt16LE(p + 30);
      const commentLen = zip.readUInt16LE(p + 32);
      entries.push({
        name: zip.subarray(p + 46, p + 46 + nameLen).toString('utf8'),
        method: zip.readUInt16LE(p + 10),
        crc: zip.readUInt32LE(p + 16),
        compressedSize: zip.readUInt32LE(p + 20),
        size: zip.readUInt32LE(p + 24),
        offset: zip.readUInt32LE(p + 42),
      });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  }

  function extract(zip: Buffer, e: Entry): Buffer {
    expect(zip.readUInt32LE(e.offset)).toBe(0x04034b50);
    const start = e.offset + 30 + zip.readUInt16LE(e.offset + 26) + zip.readUInt16LE(e.offset + 28);
    const body = zip.subarray(start, start + e.compressedSize);
    const data = e.method === 8 ? inflateRawSync(body) : Buffer.from(body);
    expect(data.length).toBe(e.size);
    return data;
  }

  it('`npm run build:alfred` writes a zip with info.plist at its root, the icon and the scripts it runs', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-alfred.mjs')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const zip = readFileSync(join(ROOT, 'dist', 'memery.alfredworkflow'));
    const entries = centralDirectory(zip);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.has('info.plist')).toBe(true);
    for (const e of entries) expect(e.name).not.toMatch(/^\/|\.\.|\\/);

    const plistText = extract(zip, byName.get('info.plist')!).toString('utf8');
    expect(plistText).toBe(readFileSync(join(WF, 'info.plist'), 'utf8'));
    const plist = parsePlist(plistText) as Dict;
    // The Script Filter runs a script that the package contains (and so does every other object).
    expect(scriptRefs(String(configOf(scriptFilter(plist)).script))).toContain('scripts/search.mjs');
    for (const o of objectsOf(plist)) for (const ref of scriptRefs(String(configOf(o).script ?? ''))) expect(byName.has(ref), ref).toBe(true);
    expect(byName.has('scripts/lib.mjs')).toBe(true); // search.mjs's import

    const icon = extract(zip, byName.get('icon.png')!);
    expect(icon.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(icon.readUInt32BE(16)).toBeGreaterThanOrEqual(256);
    expect(icon.readUInt32BE(20)).toBe(icon.readUInt32BE(16));
  });
});

/**
 * The Raycast extension (raycast-extension/) against real memery: its client and search grid talk
 * to a real server over the Unix socket and to the real CLI (dist/, built by `npm test`), with
 * `@raycast/api` replaced by test/raycast/raycast-api.ts (an alias in vitest.config.ts). The words
 * in an image (OCR) are given to one colour image with test/helpers/texts.ts: the grid shows them,
 * "Copy Text" copies them, and the Search By preference (mode) reaches the server and the CLI.
 * @raycast/utils (usePromise, showFailureToast) is the real package, on top of the test double.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { createElement, type ReactElement } from 'react';
import { act, create, type ReactTestInstance, type ReactTestRenderer } from 'react-test-renderer';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Memery } from '../ts/index.js';
import { startServer, type RunningServer } from '../ts/server/index.js';
import { cliError, ServerClient } from '@memery/client';
import { classifyError, MemeryClient, type IndexSummary } from '../raycast-extension/src/memery-client.js';
import { isNodeScript, locateMemery, locateNode } from '../raycast-extension/src/locate.js';
import IndexFolder from '../raycast-extension/src/index-folder.js';
import SearchMemes, { itemImage } from '../raycast-extension/src/search-memes.js';
import FindSimilar from '../raycast-extension/src/find-similar.js';
import { isImageFile } from '../raycast-extension/src/finder-selection.js';
import { __reset, __setFinderSelection, __setPreferences, calls } from './raycast/raycast-api.js';
import { tempDir, writeColourSet } from './helpers/images.js';
import { setImageText } from './helpers/texts.js';
import { COLOUR_HF } from './helpers/memery.js';
import { HAS_SHARED, ROOT, SHARED_SKIP_REASON, shared } from './helpers/shared.js';

// React's act() environment flag (silences "not wrapped in act" warnings).
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const BIN = join(ROOT, 'bin', 'memery.js');
const CLI_MAIN = join(ROOT, 'dist', 'ts', 'cli', 'main.js');
/** White's words (the colour images have none): no colour word in them, so colour queries rank as before. */
const WORDS = 'When the build passes\n<b>cash money</b> & "quotes"';
const EVIL = `red $(touch x) \`touch y\` "double" 'single' ; touch z && echo $HOME | tee w > v`;

let images: string;
let colours: Record<string, string>;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  // react-test-renderer warns that it is deprecated on every create(); the rest of console.error stays.
  const error = console.error.bind(console);
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('react-test-renderer is deprecated')) return;
    error(...args);
  });
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: build with \`npx tsc -p tsconfig.json\` (npm test does)`);
  images = tempDir('memery-raycast-img-');
  colours = await writeColourSet(images);
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  rmSync(images, { recursive: true, force: true });
});

afterEach(() => {
  __reset();
});

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await act(async () => {
      await new Promise((r) => setTimeout(r, 50));
    });
  }
}

async function render(el: ReactElement): Promise<ReactTestRenderer> {
  let r: ReactTestRenderer | undefined;
  await act(async () => {
    r = create(el);
  });
  cleanups.push(() => act(() => r!.unmount()));
  return r!;
}

const byType = (root: ReactTestInstance, type: string) => root.findAll((n) => n.type === type);

async function typeQuery(r: ReactTestRenderer, text: string): Promise<void> {
  const grid = r.root.find((n) => n.type === 'Grid');
  await act(async () => {
    (grid.props.onSearchTextChange as (t: string) => void)(text);
  });
}

/** The grid's items once the search for what was typed has answered. */
async function items(r: ReactTestRenderer): Promise<ReactTestInstance[]> {
  return until('grid results', () => {
    const grid = r.root.find((n) => n.type === 'Grid');
    const found = byType(r.root, 'Grid.Item');
    return !grid.props.isLoading && found.length > 0 ? found : undefined;
  });
}

/** A free TCP port on 127.0.0.1 (so a server the client starts never takes 7627). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A `memery` that records its arguments (one JSON line per run in `log`) and then runs the real CLI;
 * with `failServe`, `memery serve` fails as a broken install would.
 */
function recordingMemery(dir: string, log: string, failServe: boolean): string {
  const file = join(dir, 'memery-recording.mjs');
  writeFileSync(
    file,
    `#!/usr/bin/env node
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const args = process.argv.slice(2);
appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n');
if (${failServe} && args.includes('serve')) {
  process.stderr.write(JSON.stringify({ error: { code: 'E_IO', message: 'the server cannot start (test)' } }) + '\\n');
  process.exit(1);
}
await import(pathToFileURL(${JSON.stringify(CLI_MAIN)}).href);
`,
  );
  chmodSync(file, 0o755);
  return file;
}

function readArgLog(log: string): string[][] {
  return existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[])
    : [];
}

describe('raycast extension: through a warm server on the Unix socket', () => {
  let home: string;
  let server: RunningServer;

  beforeAll(async () => {
    home = tempDir('memery-rc-home-');
    server = await startServer({ home, port: 0, memery: { modelDir: COLOUR_HF }, log: () => {} });
    cleanups.push(async () => {
      await server.close();
      rmSync(home, { recursive: true, force: true });
    });
    // The Index Folder command's path: POST /api/index over the socket, progress as server-sent events.
    const client = new MemeryClient({ home, memeryPath: '/nonexistent/memery', startServer: false });
    indexProgress = [];
    indexSummary = await client.index(images, (p) => indexProgress.push(p.phase));
    indexVia = client.via;
  });
  let indexProgress: string[] = [];
  let indexSummary: IndexSummary | undefined;
  let indexVia: string | undefined;

  it('indexes a folder over the socket with progress events', async () => {
    expect(indexVia).toBe('server');
    expect(indexSummary!.folder).toBe(images);
    expect(indexSummary!.found).toBe(Object.keys(colours).length);
    expect(indexSummary!.new).toBe(Object.keys(colours).length);
    expect(indexProgress).toContain('encode');
    const client = new MemeryClient({ home, startServer: false });
    const status = await client.status();
    expect(status.via).toBe('server');
    expect(status.folders.map((f) => f.path)).toEqual([images]);
  });

  it('Index Folder: indexes the chosen folder with a progress toast', async () => {
    __setPreferences({ memeryHome: home, memeryPath: '/nonexistent/memery', folders: images });
    const r = await render(createElement(IndexFolder));
    const picker = r.root.find((n) => n.type === 'Form.FilePicker');
    expect(picker.props.defaultValue).toEqual([images]);
    const panel = await render(r.root.find((n) => n.type === 'Form').props.actions as ReactElement);
    const submit = panel.root.find((n) => n.type === 'Action.SubmitForm');
    await act(async () => {
      await (submit.props.onSubmit as (v: { folder: string[] }) => Promise<void>)({ folder: [images] });
    });
    const toast = calls.toasts[0]!;
    expect(toast.title).toBe(`Indexed ${basename(images)}`);
    expect(toast.style).toBe('success');
    expect(toast.message).toMatch(new RegExp(`^${Object.keys(colours).length} images`));
    expect(calls.popToRoot).toBe(1);
  });

  it('renders the red image first for "red", with its actions', async () => {
    // A memery path that does not exist: only the server can answer.
    __setPreferences({ memeryHome: home, memeryPath: '/nonexistent/memery', startServer: true, resultCount: '5' });
    const r = await render(createElement(SearchMemes));
    await until('the folder dropdown', () => (byType(r.root, 'Grid.Dropdown.Item').length > 1 ? true : undefined));
    expect(byType(r.root, 'Grid.Dropdown.Item').map((i) => i.props.value)).toContain(images);

    await typeQuery(r, 'red');
    const found = await items(r);
    expect(found.length).toBe(5);
    const first = found[0]!;
    expect(first.props.title).toBe('red.png');
    expect(first.props.subtitle).toMatch(/^\d\.\d{3} · /);
    expect(first.props.quickLook).toEqual({ path: colours.red, name: 'red.png' });
    // The grid shows memery's cached thumbnail when the result has one, else the image itself.
    const source = (first.props.content as { value: { source: string } }).value.source;
    if (source !== colours.red) expect(source.endsWith('.jpg') && existsSync(source), source).toBe(true);
    expect(byType(r.root, 'Grid.Section')[0]!.props.subtitle).toContain('memery server');
    const grid = r.root.find((n) => n.type === 'Grid');
    expect(grid.props.throttle).toBe(true);
    expect(grid.props.navigationTitle).toBeUndefined(); // a root command's title is the command's (Store guidelines)

    // The actions: paste and copy the file (Raycast's own actions), Quick Look, Finder, Open With, Copy Path, Search Similar.
    const panel = await render(first.props.actions as ReactElement);
    const action = (title: string) => panel.root.find((n) => typeof n.type === 'string' && n.props.title === title);
    expect(action('Paste Image').type).toBe('Action.Paste');
    expect(action('Paste Image').props.content).toEqual({ file: colours.red });
    expect(action('Copy Image').type).toBe('Action.CopyToClipboard');
    expect(action('Copy Image').props.content).toEqual({ file: colours.red });
    expect(action('Copy Image').props.shortcut).toEqual({ modifiers: ['cmd', 'shift'], key: 'c' });
    expect(calls.clipboardPaste).toEqual([]);
    expect(calls.clipboardCopy).toEqual([]);
    expect(byType(panel.root, 'Action.ToggleQuickLook')[0]!.props.shortcut).toEqual({ modifiers: ['cmd'], key: 'y' });
    expect(byType(panel.root, 'Action.ShowInFinder')[0]!.props.path).toBe(colours.red);
    expect(byType(panel.root, 'Action.OpenWith')[0]!.props.path).toBe(colours.red);
    expect(action('Copy Path').props.content).toBe(colours.red);
    expect(action('Search Similar').type).toBe('Action.Push');
  });

  it('"Search Similar" pushes a grid that searches with that image as the query (id:<n>), the image itself first', async () => {
    const spy = vi.spyOn(Memery.prototype, 'search');
    cleanups.push(() => spy.mockRestore());
    __setPreferences({ memeryHome: home, memeryPath: '/nonexistent/memery', resultCount: '4' });
    const r = await render(createElement(SearchMemes));
    await typeQuery(r, 'green');
    const green = (await items(r))[0]!;
    expect(green.props.title).toBe('green.png');
    const panel = await render(green.props.actions as ReactElement);
    const push = panel.root.find((n) => n.type === 'Action.Push' && n.props.title === 'Search Similar');
    expect(push.props.shortcut).toEqual({ modifiers: ['cmd'], key: 'm' });
    spy.mockClear();
    const similar = await render(push.props.target as ReactElement);
    const found = await items(similar);
    expect(found[0]!.props.title).toBe('green.png');
    expect(found.length).toBe(4);
    expect(spy).toHaveBeenCalled();
    expect(spy.mock.calls.at(-1)![0]).toMatchObject({ image: colours.green }); // the server resolved id:<n> to the catalog's path
    const grid = similar.root.find((n) => n.type === 'Grid');
    expect(grid.props.navigationTitle).toBe('Similar to green.png'); // a pushed view may have one
    expect(grid.props.onSearchTextChange).toBeUndefined(); // the search bar filters the results
    expect(byType(similar.root, 'Grid.Section')[0]!.props.title).toBe('Like green.png');
  });

  it('searches by example image (id:<n>) and the grid for "Search Similar" shows it first', async () => {
    const client = new MemeryClient({ home, startServer: false });
    const blue = (await client.search({ query: { text: 'blue' }, n: 1 })).results[0]!;
    expect(blue.path).toBe(colours.blue);
    const similar = await client.search({ query: { similarTo: { id: blue.id, path: blue.path } }, n: 3 });
    expect(similar.via).toBe('server');
    expect(similar.results[0]!.path).toBe(colours.blue);
  });

  it('waits for typing to pause: quickly typed queries reach memery once, and only the latest answer shows', async () => {
    __setPreferences({ memeryHome: home, memeryPath: '/nonexistent/memery', resultCount: '3' });
    const r = await render(createElement(SearchMemes));
    await until('the status', () => (byType(r.root, 'Grid.Dropdown.Item').length > 1 ? true : undefined));
    const spy = vi.spyOn(Memery.prototype, 'search');
    cleanups.push(() => spy.mockRestore());
    spy.mockClear(); // an earlier test's spy on the same method is this one
    const started = Date.now();
    for (const t of ['g', 'gr', 'gre', 'gree', 'green', 'blue']) await typeQuery(r, t);
    const typedMs = Date.now() - started;
    const found = await until('blue first', () => {
      const f = byType(r.root, 'Grid.Item');
      return f[0]?.props.title === 'blue.png' && !r.root.find((n) => n.type === 'Grid').props.isLoading ? f : undefined;
    });
    expect(found).toHaveLength(3);
    const texts = spy.mock.calls.map(([q]) => (typeof q === 'string' ? q : q.text));
    expect(texts.at(-1)).toBe('blue');
    // Typed within the 120 ms pause (the usual case): only the last query was sent.
    if (typedMs < 100) expect(texts).toEqual(['blue']);
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    expect(byType(r.root, 'Grid.Item')[0]!.props.title).toBe('blue.png');
  });

  it('passes a query with shell metacharacters to the server verbatim', async () => {
    const spy = vi.spyOn(Memery.prototype, 'search');
    cleanups.push(() => spy.mockRestore());
    const cwd = tempDir('memery-rc-cwd-');
    const old = process.cwd();
    process.chdir(cwd);
    try {
      const client = new MemeryClient({ home, startServer: false });
      const out = await client.search({ query: { text: EVIL }, n: 3 });
      expect(out.via).toBe('server');
      expect(out.results.length).toBe(3);
    } finally {
      process.chdir(old);
    }
    expect(spy).toHaveBeenCalled();
    const q = spy.mock.calls.at(-1)![0];
    expect(typeof q === 'string' ? q : q.text).toBe(EVIL);
    expect(readdirSync(cwd)).toEqual([]);
    for (const d of [ROOT, home]) for (const f of ['x', 'y', 'z', 'w', 'v']) expect(existsSync(join(d, f))).toBe(false);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('shows an empty state that offers to lower the threshold when nothing scores above it', async () => {
    __setPreferences({ memeryHome: home, startServer: false, threshold: '0.5', folders: images });
    const r = await render(createElement(SearchMemes));
    await typeQuery(r, 'a dog on a beach');
    const emptyView = (title: string) =>
      until(`the empty view "${title}"`, () => byType(r.root, 'Grid.EmptyView').find((e) => e.props.title === title));
    const empty = await emptyView('No image scores above 0.5');
    const action = async (view: ReactTestInstance, title: string) => {
      const panel = await render(view.props.actions as ReactElement);
      const a = panel.root.find((n) => typeof n.type === 'string' && n.props.title === title);
      await act(async () => {
        (a.props.onAction as () => void)();
      });
    };
    await action(empty, 'Lower Threshold to 0.4');
    const lower = await emptyView('No image scores above 0.4');
    await action(lower, 'Show All Results');
    const found = await items(r);
    expect(found.length).toBe(Object.keys(colours).length);
  });

  it('shows the words in an image: a snippet in the subtitle (score after it), the text in the tooltip and accessory, "Copy Text"', async () => {
    setImageText(home, colours.white!, WORDS);
    __setPreferences({ memeryHome: home, memeryPath: '/nonexistent/memery', folders: images, resultCount: '8' });
    const r = await render(createElement(SearchMemes));
    await typeQuery(r, 'cash money');
    const found = await until('white first', () => {
      const f = byType(r.root, 'Grid.Item');
      return f[0]?.props.title === 'white.png' && !r.root.find((n) => n.type === 'Grid').props.isLoading ? f : undefined;
    });
    const white = found[0]!;
    expect(white.props.subtitle).toMatch(/cash money.* · \d\.\d{3}$/);
    expect(white.props.subtitle).not.toContain('\n');
    expect(white.props.content.tooltip).toContain(WORDS);
    expect(white.props.accessory).toEqual({ icon: 'Text', tooltip: WORDS });
    expect(white.props.quickLook).toEqual({ path: colours.white, name: 'white.png' }); // Quick Look still works
    const panel = await render(white.props.actions as ReactElement);
    const copy = panel.root.find((n) => n.type === 'Action.CopyToClipboard' && n.props.title === 'Copy Text');
    expect(copy.props.content).toBe(WORDS);
    expect(byType(panel.root, 'Action.ToggleQuickLook')).toHaveLength(1);
    // An image without words: score and folder, no accessory, no "Copy Text".
    const other = found.find((i) => i.props.title !== 'white.png')!;
    expect(other.props.subtitle).toMatch(/^\d\.\d{3} · /);
    expect(other.props.accessory).toBeUndefined();
    const otherPanel = await render(other.props.actions as ReactElement);
    expect(otherPanel.root.findAll((n) => n.props.title === 'Copy Text')).toHaveLength(0);
  });

  it('the Search By preference: words only reaches the server as mode text', async () => {
    __setPreferences({ memeryHome: home, memeryPath: '/nonexistent/memery', folders: images, searchMode: 'text' });
    const r = await render(createElement(SearchMemes));
    await typeQuery(r, 'cash money');
    const found = await items(r);
    expect(found.map((i) => i.props.title)).toEqual(['white.png']);
    expect(byType(r.root, 'Grid.Section')[0]!.props.subtitle).toContain('words only');
    const client = new MemeryClient({ home, startServer: false });
    const words = await client.search({ query: { text: 'cash money' }, n: 5, mode: 'text' });
    expect(words.results.map((x) => x.path)).toEqual([colours.white]);
    expect(words.results[0]!.text).toBe(WORDS);
    expect(words.results[0]!.match!.spans.length).toBeGreaterThan(0);
    const pictures = await client.search({ query: { text: 'cash money' }, n: 8, mode: 'clip' });
    expect(pictures.results).toHaveLength(8);
    expect(pictures.results.every((x) => x.match === null)).toBe(true);
  });

  // Last in this block: it adds the shared meme folder to the catalog (indexed without OCR: fast).
  it.skipIf(!HAS_SHARED)(
    `Find Similar to Finder Selection: the first selected image file, itself first among the images like it ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`,
    async () => {
      const memes = shared('corpus', 'memes');
      const server = new ServerClient({ socketPath: join(home, 'memery.sock') });
      try {
        const summary = await server.index(memes, undefined, { ocr: false });
        expect(summary.found).toBeGreaterThan(50);
      } finally {
        server.close();
      }
      const stonks = join(memes, 'stonks-meme.jpg');
      const notes = join(tempDir('memery-rc-finder-'), 'notes.txt');
      writeFileSync(notes, 'not an image');
      expect(isImageFile(stonks)).toBe(true);
      expect(isImageFile(notes)).toBe(false);
      expect(isImageFile(memes)).toBe(false);

      // A folder, a text file and the meme selected: the meme is the query.
      __setPreferences({ memeryHome: home, memeryPath: '/nonexistent/memery', resultCount: '6' });
      __setFinderSelection([memes, notes, stonks]);
      const r = await render(createElement(FindSimilar));
      const found = await items(r);
      expect(found[0]!.props.title).toBe('stonks-meme.jpg');
      expect(found[0]!.props.quickLook).toEqual({ path: stonks, name: 'stonks-meme.jpg' });
      expect(Number(String(found[0]!.props.subtitle).split(' · ')[0])).toBeGreaterThan(0.99);
      expect(found).toHaveLength(6);
      const grid = r.root.find((n) => n.type === 'Grid');
      expect(grid.props.navigationTitle).toBeUndefined(); // a root command
      expect(byType(r.root, 'Grid.Section')[0]!.props.title).toBe('Like stonks-meme.jpg');
      expect(byType(r.root, 'Grid.Section')[0]!.props.subtitle).toContain('memery server');
      expect(calls.toasts.filter((t) => t.style === 'failure')).toEqual([]);

      // No image: a clear toast, and the same words in the empty view.
      const problem = async (selection: string[] | Error, title: string, message: RegExp) => {
        __reset();
        __setPreferences({ memeryHome: home, memeryPath: '/nonexistent/memery' });
        __setFinderSelection(selection);
        const view = await render(createElement(FindSimilar));
        const toast = await until(`the toast "${title}"`, () => calls.toasts.find((t) => t.title === title));
        expect(toast.style).toBe('failure');
        expect(toast.message).toMatch(message);
        const empty = await until('the empty view', () => byType(view.root, 'Grid.EmptyView')[0]);
        expect(empty.props.title).toBe(title);
        expect(byType(view.root, 'Grid.Item')).toHaveLength(0);
      };
      await problem([], 'Nothing selected in Finder', /Select an image in Finder/);
      // The formats named as the protocol lists them (IMAGE_FORMAT_NAMES), in the words a user reads.
      const formats = /^memery searches by a JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, HEIC or JPEG XL file\. Select an image/;
      await problem([notes], 'notes.txt is not an image', formats);
      await problem([notes, memes], 'No image in the Finder selection', formats);
      await problem(new Error("Finder isn't the frontmost application"), 'No Finder selection', /^Finder isn't the frontmost application\. Select an image/);
      rmSync(dirname(notes), { recursive: true, force: true });
    },
  );
});

describe('raycast extension: falling back to the CLI', () => {
  let home: string;
  let work: string;

  beforeAll(() => {
    home = tempDir('memery-rc-cli-home-');
    work = tempDir('memery-rc-work-');
    cleanups.push(() => {
      rmSync(home, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    });
  });

  it('finds node and an npm-installed memery (a node script)', () => {
    expect(locateNode(process.execPath).path).toBe(process.execPath);
    expect(locateMemery(BIN).path).toBe(BIN);
    expect(isNodeScript(BIN)).toBe(true);
    const missing = new MemeryClient({ home, memeryPath: join(work, 'nope'), startServer: false });
    expect(() => missing.command(['status'])).toThrow(/memery is not installed/);
  });

  it('renders the red image first via `node bin/memery.js search --json` when no server runs', async () => {
    __setPreferences({
      memeryHome: home,
      memeryPath: BIN,
      nodePath: process.execPath,
      modelDir: COLOUR_HF,
      folders: images,
      startServer: false,
      resultCount: '3',
    });
    const r = await render(createElement(SearchMemes));
    await typeQuery(r, 'red');
    const found = await items(r);
    expect(found[0]!.props.title).toBe('red.png');
    expect(found.length).toBe(3);
    expect(byType(r.root, 'Grid.Section')[0]!.props.subtitle).toContain('memery CLI');
    expect(existsSync(join(home, 'memery.sock'))).toBe(false);
  });

  it('shows the cached thumbnail a result carries (`thumb`), and pastes, copies and previews the original', async () => {
    // A memery whose `search --json` answers with a thumbnail path (what memery gives once it caches them).
    const thumb = join(work, 'red-thumb.jpg');
    writeFileSync(thumb, 'jpeg');
    const fake = join(work, 'memery-thumbs.mjs');
    const result = { id: 7, path: colours.red, score: 0.5, width: 64, height: 64, bytes: 100, mtime: 1, text: null, match: null, thumb };
    const status = { home, folders: [{ path: images, files: 8, failed: 0, indexedAt: 1 }], counts: { files: 8, failed: 0, embeddings: 8, folders: 1 }, model: { name: 'm', id: null, dir: null } };
    writeFileSync(
      fake,
      `#!/usr/bin/env node
const args = process.argv.slice(2);
process.stdout.write(JSON.stringify(args.includes('status') ? ${JSON.stringify(status)} : { results: [${JSON.stringify(result)}] }));
`,
    );
    chmodSync(fake, 0o755);
    __setPreferences({ memeryHome: home, memeryPath: fake, nodePath: process.execPath, folders: images, startServer: false });
    const r = await render(createElement(SearchMemes));
    await typeQuery(r, 'red');
    const item = (await items(r))[0]!;
    expect(item.props.content.value).toEqual({ source: thumb });
    expect(item.props.quickLook).toEqual({ path: colours.red, name: 'red.png' });
    const panel = await render(item.props.actions as ReactElement);
    expect(panel.root.find((n) => n.props.title === 'Paste Image').props.content).toEqual({ file: colours.red });
    expect(panel.root.find((n) => n.props.title === 'Copy Image').props.content).toEqual({ file: colours.red });
    // Without a thumbnail, the image itself.
    expect(itemImage({ ...result, thumb: undefined })).toBe(colours.red);
    expect(itemImage(result)).toBe(thumb);
  });

  it('searches similar images through the CLI with --image PATH', async () => {
    const client = new MemeryClient({ home, memeryPath: BIN, nodePath: process.execPath, modelDir: COLOUR_HF, startServer: false });
    const out = await client.search({ query: { similarTo: { id: 0, path: colours.yellow! } }, folders: [images], n: 2 });
    expect(out.via).toBe('cli');
    expect(out.results[0]!.path).toBe(colours.yellow);
  });

  it('carries the words in images and the search mode through the CLI (--mode)', async () => {
    setImageText(home, colours.white!, WORDS);
    const client = new MemeryClient({ home, memeryPath: BIN, nodePath: process.execPath, modelDir: COLOUR_HF, startServer: false });
    const out = await client.search({ query: { text: 'cash money' }, folders: [images], n: 5, mode: 'text' });
    expect(out.via).toBe('cli');
    expect(out.results.map((x) => x.path)).toEqual([colours.white]);
    expect(out.results[0]!.text).toBe(WORDS);
    expect(out.results[0]!.match!.score).toBe(1);
    const hybrid = await client.search({ query: { text: 'red' }, folders: [images], n: 8 });
    expect(hybrid.results[0]!.path).toBe(colours.red);
    expect(hybrid.results.find((x) => x.path === colours.white)!.text).toBe(WORDS);
    expect(hybrid.results.find((x) => x.path === colours.red)!.text).toBeNull();
  });

  it('falls back to the CLI when the server cannot start, passing shell metacharacters verbatim', async () => {
    const log = join(work, 'args.jsonl');
    const memery = recordingMemery(work, log, true);
    const client = new MemeryClient({ home, memeryPath: memery, nodePath: process.execPath, modelDir: COLOUR_HF });
    const cwd = tempDir('memery-rc-cwd-');
    const old = process.cwd();
    process.chdir(cwd);
    let out;
    try {
      out = await client.search({ query: { text: EVIL }, folders: [images], n: 2 });
    } finally {
      process.chdir(old);
    }
    expect(out.via).toBe('cli');
    expect(out.results.length).toBe(2);
    expect(client.serverFailure).toContain('the server cannot start (test)');
    const runs = readArgLog(log);
    expect(runs[0]).toContain('serve');
    const search = runs.find((a) => a.includes('search'))!;
    expect(search.at(-1)).toBe(EVIL);
    expect(search.slice(-3)).toEqual(['--', images, EVIL]);
    expect(readdirSync(cwd)).toEqual([]);
    for (const f of ['x', 'y', 'z', 'w', 'v']) expect(existsSync(join(ROOT, f))).toBe(false);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('tells why the server did not start, in a toast, and still answers through the CLI', async () => {
    const memery = recordingMemery(work, join(work, 'args2.jsonl'), true);
    __setPreferences({ memeryHome: home, memeryPath: memery, nodePath: process.execPath, modelDir: COLOUR_HF, folders: images });
    const r = await render(createElement(SearchMemes));
    const toast = await until('the server toast', () => calls.toasts.find((t) => t.title === 'memery server did not start'));
    expect(toast.message).toContain('the server cannot start (test)');
    await typeQuery(r, 'blue');
    const found = await items(r);
    expect(found[0]!.props.title).toBe('blue.png');
    expect(byType(r.root, 'Grid.Section')[0]!.props.subtitle).toContain('memery CLI');
  });

  it('says when memery is not installed, with the fix, in a toast and the empty view', async () => {
    __setPreferences({ memeryHome: join(work, 'no-home'), memeryPath: join(work, 'no-memery'), folders: images });
    const r = await render(createElement(SearchMemes));
    const empty = await until('the error view', () => byType(r.root, 'Grid.EmptyView').find((e) => e.props.title === 'memery is not installed'));
    expect(empty.props.description).toMatch(/Memery Executable/);
    const toast = await until('the toast', () => calls.toasts.find((t) => t.title === 'memery is not installed'));
    expect(toast.style).toBe('failure');
    expect(toast.message).toContain(join(work, 'no-memery'));
    expect(toast.primaryAction?.title).toBe('Open Extension Preferences');
    expect(toast.secondaryAction?.title).toBe('Copy Logs'); // @raycast/utils' showFailureToast (in development)
  });

  it('reports a missing folder and a missing model with a reason and a fix', async () => {
    const client = new MemeryClient({ home, memeryPath: BIN, nodePath: process.execPath, modelDir: COLOUR_HF, startServer: false });
    await expect(client.search({ query: { text: 'red' }, folders: [join(work, 'gone')], n: 2 })).rejects.toMatchObject({
      kind: 'folder-missing',
    });
    const noModel = new MemeryClient({ home, memeryPath: BIN, nodePath: process.execPath, modelDir: join(work, 'no-model'), startServer: false });
    const err = await noModel.search({ query: { text: 'red' }, folders: [images], n: 2 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'model-missing' });
    expect((err as { hint: string }).hint.length).toBeGreaterThan(0);
    // The kind comes from memery's error code (the CLI prints it as JSON), never from the words of
    // the message (a path may contain any word).
    expect(classifyError('E_NOT_FOUND', 'Folder not found: /pics/model-train').kind).toBe('folder-missing');
    expect(classifyError('E_MODEL', 'Expected a model folder at /m but it does not exist').kind).toBe('model-missing');
    expect(classifyError('E_IO', 'Cannot read /pics/model-not-found').kind).toBe('failed');
    expect(classifyError('E_MODEL', 'Cannot load').hint).toMatch(/memery models download/);
    expect(cliError('(noise)\n{"error":{"code":"E_NOT_FOUND","message":"Folder not found: /x","hint":"Check the path."}}\n')).toEqual({
      code: 'E_NOT_FOUND',
      message: 'Folder not found: /x',
      hint: 'Check the path.',
    });
  });

  it('starts `memery serve` detached on first use, then answers over the socket', async () => {
    const spawnHome = tempDir('memery-rc-spawn-');
    mkdirSync(spawnHome, { recursive: true });
    const env = { ...process.env, MEMERY_PORT: String(await freePort()) };
    const client = new MemeryClient({ home: spawnHome, memeryPath: BIN, nodePath: process.execPath, modelDir: COLOUR_HF, env });
    try {
      expect(await client.connect()).toBe('server');
      const summary = await client.index(images);
      expect(client.via).toBe('server');
      expect(summary.found).toBe(Object.keys(colours).length);
      const out = await client.search({ query: { text: 'green' }, n: 1 });
      expect(out.via).toBe('server');
      expect(out.results[0]!.path).toBe(colours.green);
      // A second client (the next command launch) finds the running server without starting another.
      const again = new MemeryClient({ home: spawnHome, memeryPath: '/nonexistent/memery', env });
      expect(await again.connect()).toBe('server');
    } finally {
      const info = JSON.parse(readFileSync(join(spawnHome, 'server.json'), 'utf8')) as { pid: number };
      process.kill(info.pid, 'SIGTERM');
      await until('the server to stop', () => (existsSync(join(spawnHome, 'memery.sock')) ? undefined : true), 20_000).catch(() => {});
      rmSync(spawnHome, { recursive: true, force: true });
    }
  });
});

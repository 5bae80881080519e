/**
 * `memery search` output formats over a folder of solid colours (colour-CLIP test model): table,
 * paths, JSON, NUL-separated and Alfred Script Filter JSON list the same paths in the same order.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlfredScriptFilterSchema } from '@memery/client/alfred-schema';
import { imageInfo } from '../ts/native/index.js';
import { CLI_BUILT, runColour, type CliResult } from './helpers/cli.js';
import { COLOURS, tempDir, writeColourSet, writeSolid } from './helpers/images.js';

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

interface JsonOut {
  query: Record<string, unknown>;
  results: Array<{ path: string; score: number; width: number; height: number; bytes: number; mtime: number; id: number; thumb: string | null }>;
}

function ok(r: CliResult): CliResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** Paths from the table: header, then "rank  score  size  path" (the size is "1.2 KB"). */
function tablePaths(stdout: string): string[] {
  const lines = stdout.split('\n').filter(Boolean);
  expect(lines[0]).toMatch(/^\s*#\s+score\s+size\s+path$/);
  return lines.slice(1).map((l, i) => {
    const m = /^\s*(\d+)\s+(-?\d\.\d{4})\s+([\d.]+ (?:B|KB|MB|GB))\s+(.+)$/.exec(l);
    expect(m, l).not.toBeNull();
    expect(Number(m![1])).toBe(i + 1);
    return m![4]!;
  });
}

describe.skipIf(!CLI_BUILT)('memery search output formats', () => {
  let home: string;
  let dir: string;
  let files: Record<string, string>;
  const search = (args: string[]) => runColour(['search', dir, ...args], { home });

  beforeAll(async () => {
    home = tempDir('memery-formats-home-');
    // A space in the folder name: every format must keep it intact.
    dir = tempDir('memery formats ');
    temps.push(home, dir);
    files = await writeColourSet(dir);
    ok(await runColour(['index', dir], { home }));
  });

  it('--json: the red image ranks first for "red"; the query and result fields are there', async () => {
    const r = ok(await search(['red', '--json']));
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.query).toEqual({ text: 'red' });
    expect(out.results[0]!.path).toBe(files.red);
    expect(out.results).toHaveLength(Object.keys(COLOURS).length);
    for (const x of out.results) {
      expect(Object.keys(x).sort()).toEqual(['bytes', 'height', 'id', 'match', 'mtime', 'path', 'score', 'text', 'thumb', 'width']);
      expect(x.width).toBeGreaterThan(0);
      // the thumbnail made while indexing, in the home's store
      expect(typeof x.thumb === 'string' && existsSync(x.thumb) && x.thumb.endsWith('.jpg'), String(x.thumb)).toBe(true);
    }
    const scores = out.results.map((x) => x.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('every colour word ranks its image first (search and its alias recall)', async () => {
    for (const colour of ['green', 'blue', 'yellow']) {
      const r = ok(await search([colour, '-n', '1', '--no-index', '--paths']));
      expect(r.stdout).toBe(`${files[colour]}\n`);
    }
    const r = ok(await runColour(['recall', dir, 'purple', '-n', '1', '--no-index'], { home }));
    expect(r.stdout).toBe(`${files.purple}\n`);
  });

  it('table, paths, json, -0, nul and alfred list the same paths in the same order', async () => {
    const q = ['orange', '-n', '6', '--no-index'];
    const [table, pathsDefault, paths, json, nul0, nul, alfred] = await Promise.all([
      search([...q, '--format', 'table']),
      search(q), // stdout is a pipe: paths by default
      search([...q, '--paths']),
      search([...q, '--format', 'json']),
      search([...q, '-0']),
      search([...q, '--format', 'nul']),
      search([...q, '--format', 'alfred']),
    ]).then((rs) => rs.map(ok));

    const expected = (JSON.parse(json!.stdout) as JsonOut).results.map((x) => x.path);
    expect(expected).toHaveLength(6);
    expect(expected[0]).toBe(files.orange);
    expect(tablePaths(table!.stdout)).toEqual(expected);
    expect(pathsDefault!.stdout.split('\n').filter(Boolean)).toEqual(expected);
    expect(paths!.stdout).toBe(expected.map((p) => `${p}\n`).join(''));
    // NUL-separated: each path ends with a NUL byte, nothing else in between.
    expect(nul0!.stdout.endsWith('\0')).toBe(true);
    expect(nul0!.stdout.split('\0').slice(0, -1)).toEqual(expected);
    expect(nul!.stdout).toBe(nul0!.stdout);
    const doc = AlfredScriptFilterSchema.parse(JSON.parse(alfred!.stdout));
    expect(doc.items.map((i) => i.arg)).toEqual(expected);
  });

  it('--format alfred validates against the Script Filter schema, with the stored thumbnails as icons', async () => {
    const r = ok(await search(['red', '-n', '4', '--no-index', '--format', 'alfred']));
    const doc = AlfredScriptFilterSchema.parse(JSON.parse(r.stdout));
    expect(doc.skipknowledge).toBe(true);
    expect(doc.items).toHaveLength(4);
    const first = doc.items[0]!;
    expect(first).toMatchObject({ uid: files.red, title: 'red.png', arg: files.red, type: 'file', quicklookurl: files.red });
    expect(first.subtitle).toMatch(/^\d\.\d{3} \u00b7 /);
    expect(first.subtitle).toContain(dir);
    for (const item of doc.items) {
      expect(item.uid).toBe(item.arg);
      const icon = item.icon!.path;
      // The library's store: <home>/thumbnails/<hash[0:2]>/<hash>-<size>.jpg, made while indexing.
      expect(icon.startsWith(join(home, 'thumbnails'))).toBe(true);
      expect(icon).toMatch(/\/([0-9a-f]{2})\/\1[0-9a-f]{30}-256\.jpg$/);
      expect(existsSync(icon), icon).toBe(true);
      const info = await imageInfo(icon);
      expect(info.format).toBe('jpeg');
    }
    expect(existsSync(join(home, 'thumbs'))).toBe(false); // no cache of its own any more
    // A second run reuses the stored thumbnails (same paths).
    const again = AlfredScriptFilterSchema.parse(JSON.parse(ok(await search(['red', '-n', '4', '--no-index', '--format', 'alfred'])).stdout));
    expect(again.items.map((i) => i.icon!.path)).toEqual(doc.items.map((i) => i.icon!.path));
  });

  it('--image, --not and --threshold reach the library', async () => {
    const byImage = JSON.parse(ok(await search(['--image', files.blue!, '-n', '1', '--no-index', '--json'])).stdout) as JsonOut;
    expect(byImage.query).toEqual({ image: files.blue });
    expect(byImage.results[0]!.path).toBe(files.blue);
    const notRed = JSON.parse(ok(await search(['red', '--not', 'red', '--no-index', '--json'])).stdout) as JsonOut;
    expect(notRed.query).toEqual({ text: 'red', negativeText: 'red' });
    const high = JSON.parse(ok(await search(['red', '--threshold', '0.9', '--no-index', '--json'])).stdout) as JsonOut;
    const all = JSON.parse(ok(await search(['red', '--no-index', '--json'])).stdout) as JsonOut;
    expect(high.results.length).toBeLessThan(all.results.length);
    for (const x of high.results) expect(x.score).toBeGreaterThanOrEqual(0.9);
  });

  it('-0 keeps a file name with a newline in one piece', async () => {
    const odd = tempDir('memery-odd-');
    temps.push(odd);
    mkdirSync(join(odd, 'sub dir'));
    const weird = join(odd, 'sub dir', 'line\nbreak red.png');
    await writeSolid(weird, COLOURS.red!, 70, 50);
    await writeSolid(join(odd, 'blue.png'), COLOURS.blue!, 70, 50);
    const r = ok(await runColour(['search', odd, 'red', '-0'], { home }));
    expect(r.stdout.split('\0')).toEqual([weird, join(odd, 'blue.png'), '']);
  });

  it('no results: empty output, exit 0', async () => {
    const empty = tempDir('memery-empty-');
    temps.push(empty);
    const r = await runColour(['search', empty, 'red', '--json'], { home });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as JsonOut).results).toEqual([]);
    const p = await runColour(['search', empty, 'red', '-0'], { home });
    expect(p.stdout).toBe('');
  });
});

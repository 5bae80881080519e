/**
 * Notebook rendering: results as an HTML grid with embedded thumbnails or file links, and the
 * display hooks notebook kernels look for.
 */
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchResult } from '../ts/api/schemas.js';
import { resultsToHTML, toHTML } from '../ts/notebook/html.js';
import { tempDir, writeColourSet } from './helpers/images.js';
import { openTemp } from './helpers/memery.js';

let results: SearchResult[];
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  dir = tempDir('memery-colours-');
  await writeColourSet(dir);
  const t = await openTemp();
  cleanup = t.cleanup;
  await t.m.index(dir);
  results = await t.m.search('red', { n: 3 });
});
afterAll(async () => {
  await cleanup?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('notebook HTML', () => {
  it('renders a grid with embedded JPEG thumbnails, names and scores', async () => {
    const html = await resultsToHTML(results);
    expect(html.match(/<figure/g)).toHaveLength(3);
    expect(html.match(/src="data:image\/jpeg;base64,\/9j\//g)).toHaveLength(3);
    expect(html).toContain('red.png');
    expect(html).toContain(results[0]!.score.toFixed(3));
    expect(html).not.toMatch(/<script/i);
  });

  it('embeds the thumbnails stored while indexing (a result\'s thumb), and makes the ones missing', async () => {
    expect(results.every((r) => typeof r.thumb === 'string')).toBe(true);
    // the bytes of the file `thumb` names, whatever they are: red's result given green's thumbnail
    const other = readFileSync(results[1]!.thumb!).toString('base64');
    const html = await resultsToHTML([{ ...results[0]!, thumb: results[1]!.thumb }]);
    expect(html).toContain(`data:image/jpeg;base64,${other}`);
    // larger than the stored size, or no stored thumbnail: made from the file itself
    for (const [r, size] of [[{ ...results[0]!, thumb: results[1]!.thumb }, 300], [{ ...results[0]!, thumb: null }, 160]] as const) {
      const made = await resultsToHTML([r], { size });
      expect(made).not.toContain(other);
      expect(made).toMatch(/src="data:image\/jpeg;base64,\/9j\//);
    }
  });

  it('links the files instead when asked, escaping names', async () => {
    const odd = [{ ...results[0]!, path: `${dir}/<b>"odd" & name.png` }];
    const html = await resultsToHTML(odd, { thumbnails: 'file', caption: 'path', scores: false });
    expect(html).toContain('src="file://');
    expect(html).toContain('&lt;b&gt;&quot;odd&quot; &amp; name.png');
    expect(html).not.toContain('<b>');
    expect(await resultsToHTML([])).toContain('No results.');
  });

  it('returns an object with the display hooks of Deno and IJavascript', async () => {
    const shown = await toHTML(results, { size: 64 });
    const bundle = (shown as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for('Jupyter.display')]!();
    expect(bundle['text/html']).toBe(shown.html);
    expect(bundle['text/plain']).toContain('red.png');
    expect(shown._toMime()['text/html']).toBe(shown.html);
    expect(shown._toHtml()).toBe(shown.html);
    expect(String(shown)).toBe(shown.html);
    expect(shown.html).toContain('width:64px');
  });
});

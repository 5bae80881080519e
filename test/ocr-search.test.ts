// Finding a meme by the words on it: the meme folder indexed with the colour test model (it knows
// only colour words, so the text carries the search) and real OCR; caption phrases typed as a person
// remembers them rank their meme first, one with a wrong letter too; a query matching no text ranks
// exactly as mode 'clip'; hostile queries (FTS syntax, quotes, emoji, 1,000 characters) are text and
// never throw; the CLI's table, --json, --mode and `memery ocr`; the index time with OCR off and on.
import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Memery } from '../ts/index.js';
import { normalise } from '../ts/text/normalise.js';
import { ftsExpression, matchText, planTextQuery } from '../ts/text/match.js';
import { CLI_BUILT, runCli, runColour, type CliResult } from './helpers/cli.js';
import { tempDir } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';
import { HAS_SHARED, SHARED_SKIP_REASON, shared } from './helpers/shared.js';
import { CAPTIONS } from '../scripts/bench/ocr-captions.mjs';

const match = (query: string, text: string) => matchText(planTextQuery(query)!, text);

describe('text matching', () => {
  it('ignores whitespace, case, punctuation and accents; offsets point into the original text', () => {
    const text = 'mommakingfoodforher\nchildrenvsforherself';
    const r = match('mom making food', text);
    expect(r).toMatchObject({ score: 1, tier: 3 });
    expect(text.slice(r.spans[0]!.start, r.spans[0]!.end)).toBe('mommakingfood');
    const accents = 'CAFÉ Crème, S’il Vous Plaît!';
    const a = match('cafe creme', accents);
    expect(a.tier).toBe(3);
    expect(accents.slice(a.spans[0]!.start, a.spans[0]!.end)).toBe('CAFÉ Crème');
    expect(normalise('Ｆｕｌｌ　ｗｉｄｔｈ ﬁ 東京タワー').text).toBe('fullwidthfi東京タワー');
  });

  it('tolerates one wrong, missing or extra character in a word of 4+ characters; shorter words are exact', () => {
    expect(match('cash monry', 'Thatwasverycashmoneyofyou').tier).toBe(3);
    expect(match('flowr', 'confused for a flower').tier).toBe(3);
    expect(match('flowerr', 'confused for a flower').tier).toBe(3);
    expect(match('flpwer', 'confused for a flower').tier).toBe(3);
    expect(match('flxxer', 'confused for a flower').tier).toBe(0);
    // A short query is a whole word of the original: "red" is not in "scared".
    expect(match('red', 'you got scared').tier).toBe(0);
    expect(match('red', 'RED alert').tier).toBe(3);
    // Partial: most of the query, with a long word among it.
    const p = match('grocery store banana', 'grocery store and the person');
    expect(p.tier).toBe(1);
    expect(p.score).toBeCloseTo(12 / 18, 3);
    // All words, apart: every word found, not as a phrase.
    expect(match('store grocery', 'grocery store').tier).toBe(2);
  });

  it('finds Chinese words inside a run of CJK letters, from 2 characters, where Latin words still need their boundaries', () => {
    const text = '我爱北京天安门，天安门上太阳升';
    const t = match('天安门', text);
    expect(t).toMatchObject({ score: 1, tier: 3 });
    expect(text.slice(t.spans[0]!.start, t.spans[0]!.end)).toBe('天安门');
    expect(match('北京', text)).toMatchObject({ score: 1, tier: 3 });
    expect(match('太阳', text).tier).toBe(3);
    expect(match('上海', text).tier).toBe(0);
    // Two CJK words apart: each counts as a word that says something.
    expect(match('太阳 北京', text)).toMatchObject({ score: 1, tier: 2 });
    // A Latin word beside CJK letters is at a boundary; inside a Latin word it is not.
    expect(match('cat', '猫cat狗').tier).toBe(3);
    expect(match('cat', 'concatenate').tier).toBe(0);
    // One CJK letter is too little to search by; two are a word, found by LIKE (no trigram).
    expect(planTextQuery('北')).toBeUndefined();
    const plan = planTextQuery('北京')!;
    expect(plan.trigrams).toEqual([]);
    expect(plan.likePatterns).toEqual(['%北京%']);
  });

  it('builds FTS queries only from quoted literal trigrams', () => {
    const plan = planTextQuery('"cash" AND NOT mon* NEAR(x) ^y:z (OR)')!;
    const expr = ftsExpression(plan)!;
    for (const term of expr.split(' OR ')) expect(term).toMatch(/^"[\p{L}\p{N}]{3}"$/u);
    expect(planTextQuery('" * ^ : ( ) 😂')).toBeUndefined();
    expect(planTextQuery('ok')).toBeUndefined();
  });
});

/** Caption phrases typed as a person remembers them: lowercase, spaces, no punctuation. */
const PHRASES: Array<[string, string]> = [
  ['are ya winning', 'Wholesome-Meme-1.jpg'],
  ['that was very cash money of you', 'Wholesome-Meme-28.jpg'],
  ['grown as a person', 'Wholesome-Meme-5.jpg'],
  ['your second language', 'Wholesome-Meme-63.jpg'],
  ['dads showing other dads the ribs', 'Wholesome-Meme-36.jpg'],
  ['that one compliment', 'Wholesome-Meme-15.jpg'],
  ['not a guest anymore', 'Wholesome-Meme-45.jpg'],
  ['having fun on my days off', 'Wholesome-Meme-39.jpg'],
  ['confused for a flower', 'Wholesome-Meme-64.jpg'],
  ['mom making food', 'Wholesome-Meme-10.jpg'],
];

const names = (rs: Array<{ path: string }>): string[] => rs.map((r) => basename(r.path));

function ok(r: CliResult): CliResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

describe.skipIf(!HAS_SHARED || !CLI_BUILT)(`finding memes by their words ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  const memes = shared('corpus', 'memes');
  let homeOff: string;
  let home: string;
  let m: Memery;

  beforeAll(async () => {
    for (const [, file] of PHRASES) if (file !== 'Wholesome-Meme-10.jpg') expect(Object.keys(CAPTIONS)).toContain(file);
    homeOff = tempDir('memery-ocr-off-');
    home = tempDir('memery-ocr-on-');
    // The measure: `memery index` of the meme folder, OCR off vs on (fresh homes).
    let t = performance.now();
    ok(await runColour(['index', memes, '--no-ocr', '--json'], { home: homeOff }));
    const off = (performance.now() - t) / 1000;
    t = performance.now();
    const on = ok(await runColour(['index', memes, '--json'], { home }));
    const onS = (performance.now() - t) / 1000;
    const summary = JSON.parse(on.stdout) as { texts: number; found: number };
    console.log(
      `memery index ${memes} (${summary.found} files, colour test model, ${summary.texts} texts read): ` +
        `OCR off ${off.toFixed(1)} s, OCR on ${onS.toFixed(1)} s (${(onS / off).toFixed(1)}x)`,
    );
    expect(summary.texts).toBe(79); // every decodable file (corrupted-file.jpeg is reported)
    m = await Memery.open({ home, modelDir: COLOUR_HF });
  }, 600_000);
  afterAll(async () => {
    await m?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(homeOff, { recursive: true, force: true });
  });

  it.each(PHRASES)('"%s" ranks %s first', async (phrase, file) => {
    const r = await m.search(phrase, { n: 5 });
    expect(names(r)[0], JSON.stringify(r.slice(0, 3).map((x) => [basename(x.path), x.match]))).toBe(file);
    expect(r[0]!.match!.score).toBe(1);
    expect(r[0]!.text).toBeTruthy();
    const t = r[0]!.text!;
    const hit = r[0]!.match!.spans.map((s) => t.slice(s.start, s.end)).join('');
    expect(hit.toLowerCase().replace(/[^a-z0-9]/g, '')).toBe(phrase.replace(/ /g, ''));
  });

  it('a phrase with one wrong letter still finds its meme', async () => {
    expect(names(await m.search('dads showing other dads the rubs', { n: 3 }))[0]).toBe('Wholesome-Meme-36.jpg');
    expect(names(await m.search('confused for a flowr', { n: 3 }))[0]).toBe('Wholesome-Meme-64.jpg');
  });

  it('a query matching no text ranks exactly as mode clip (same ids and scores)', async () => {
    for (const q of ['purple', 'a bright green photograph', 'zebra xylophone quartz']) {
      const hybrid = await m.search(q, { n: 20 });
      const clip = await m.search(q, { n: 20, mode: 'clip' });
      expect(hybrid.map((r) => [r.id, r.score])).toEqual(clip.map((r) => [r.id, r.score]));
      expect(hybrid.every((r) => r.match === null)).toBe(true);
      expect(await m.search(q, { n: 20, mode: 'text' })).toEqual([]);
    }
  });

  it('image-only queries are CLIP only; mode text ranks by the share of the query found', async () => {
    const img = shared('corpus', 'memes', 'Wholesome-Meme-28.jpg');
    const byImage = await m.search({ image: img }, { n: 5 });
    expect(names(byImage)[0]).toBe('Wholesome-Meme-28.jpg');
    expect(byImage.every((r) => r.match === null)).toBe(true);
    const t = await m.search('cash money banana', { n: 5, mode: 'text' });
    expect(names(t)[0]).toBe('Wholesome-Meme-28.jpg');
    expect(t[0]!.score).toBeCloseTo(9 / 15, 3);
    expect(t[0]!.score).toBe(t[0]!.match!.score);
  });

  it('queries with quotes, FTS operators, emoji and 1,000 characters are text and never throw', async () => {
    const hostile = [
      '"cash money"',
      'cash" money',
      'cash AND money',
      'cash OR money',
      'NOT cash money',
      'cash* money*',
      'NEAR(cash money)',
      'NEAR( cash money )',
      '^cash money',
      'text:cash money',
      '(cash money)',
      '😂 cash money 🔥',
      'AND OR NOT NEAR',
      '"',
      '*',
      '(((',
      'a:b:c',
      '\u0000 cash \u0001',
      'x'.repeat(1000),
      'cash money '.repeat(91).slice(0, 1000),
      Array.from({ length: 1000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join(''),
    ];
    for (const q of hostile) {
      for (const mode of ['hybrid', 'text', 'clip'] as const) {
        const r = await m.search(q, { n: 5, mode });
        expect(Array.isArray(r), `${mode}: ${q.slice(0, 40)}`).toBe(true);
      }
      // Operators and symbols are words or nothing: "NEAR(cash" is the word "nearcash", "^cash" is "cash".
      const words = q.split(/\s+/).map((w) => normalise(w).text);
      if (q.length < 100 && words.includes('cash') && words.includes('money')) {
        expect(names(await m.search(q, { n: 3 }))[0], q).toBe('Wholesome-Meme-28.jpg');
      }
    }
  });

  it('memery search --json carries text and match; --mode text; the table shows a snippet', async () => {
    const r = ok(await runColour(['search', memes, 'cash money', '-n', '3', '--json', '--no-index'], { home }));
    const out = JSON.parse(r.stdout) as { results: Array<{ path: string; text: string | null; match: { score: number; spans: Array<{ start: number; end: number }> } | null }> };
    expect(basename(out.results[0]!.path)).toBe('Wholesome-Meme-28.jpg');
    const first = out.results[0]!;
    expect(first.text).toMatch(/cash money/i);
    expect(first.match!.score).toBe(1);
    expect(first.text!.slice(first.match!.spans[0]!.start, first.match!.spans[0]!.end).toLowerCase()).toBe('cash money');
    for (const x of out.results.slice(1)) expect(x).toHaveProperty('match');

    const t = ok(await runColour(['search', memes, 'cash money', '--mode', 'text', '--paths', '--no-index'], { home }));
    const textOnly = t.stdout.split('\n').filter(Boolean).map((p) => basename(p));
    expect(textOnly[0]).toBe('Wholesome-Meme-28.jpg');
    expect(textOnly.length).toBeLessThan(10); // only memes whose text holds (most of) the words

    const table = ok(await runColour(['search', memes, 'cash money', '-n', '2', '--format', 'table', '--no-index'], { home }));
    expect(table.stdout.split('\n')[0]).toMatch(/^\s*#\s+score\s+size\s+text\s+path$/);
    expect(table.stdout.split('\n')[1]).toMatch(/cash money.*Wholesome-Meme-28\.jpg$/i);
  });

  it('memery ocr FILE prints the text; --json the lines with boxes and confidences', async () => {
    const file = shared('corpus', 'memes', 'Wholesome-Meme-10.jpg');
    const plain = ok(await runCli(['ocr', file], { home }));
    expect(plain.stdout.toLowerCase()).toContain('mom making food for her');
    const j = ok(await runCli(['ocr', file, '--json'], { home }));
    const out = JSON.parse(j.stdout) as { path: string; text: string; width: number; height: number; lines: Array<{ text: string; confidence: number; box: number[] }> };
    expect(out.path).toBe(file);
    expect(out.width).toBeGreaterThan(0);
    expect(out.lines.length).toBeGreaterThanOrEqual(2);
    for (const l of out.lines) {
      expect(l.box).toHaveLength(8);
      for (const v of l.box) expect(v).toBeGreaterThanOrEqual(0);
      expect(l.confidence).toBeGreaterThan(0.5);
    }
    expect(out.lines.map((l) => l.text).join('\n')).toBe(out.text);
    const bad = await runCli(['ocr', shared('corpus', 'memes', 'corrupted-file.jpeg'), '--json'], { home });
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr.trim().split('\n').pop()!).error.code).toBe('E_DECODE');
  });

  it('Memery.readText reads a path or the bytes of an image', async () => {
    const file = shared('corpus', 'memes', 'Wholesome-Meme-28.jpg');
    const a = await m.readText(file);
    const { readFileSync } = await import('node:fs');
    const b = await m.readText(readFileSync(file));
    expect(a.text).toBe(b.text);
    expect(a.text.toLowerCase()).toContain('cash money');
    expect(a.lines[0]!.box).toHaveLength(8);
  });
});

// Text in images (OCR) in the catalog: stored once per (content hash, OCR model id) with its lines,
// read by `index` after encoding; a catalog indexed without OCR (or before OCR existed: schema 1)
// gets its texts on the next run without re-embedding; a moved or copied meme keeps its text
// without a second read; images without text get an empty text (not read again); a stopped run
// resumes from its committed chunks; orphaned texts go with orphaned embeddings; a file whose
// text cannot be read is reported without failing the run.
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Memery, isMemeryError } from '../ts/index.js';
import { Catalog } from '../ts/catalog/catalog.js';
import { readTexts } from '../ts/catalog/read-texts.js';
import { contentHash } from '../ts/catalog/hash.js';
import { TextStore } from '../ts/catalog/texts.js';
import { ocrModelInfo } from '../ts/api/ocr-model.js';
import { SCHEMA_VERSION } from '../ts/catalog/schema.js';
import type { OcrEngine, OcrResult } from '../ts/native/ocr.js';
import { tempDir, writeSolid } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';
import { HAS_SHARED, SHARED_SKIP_REASON, shared } from './helpers/shared.js';

const MEMES = ['Wholesome-Meme-1.jpg', 'Wholesome-Meme-10.jpg', 'Wholesome-Meme-28.jpg', 'Wholesome-Meme-36.jpg', 'Wholesome-Meme-64.jpg'];
const OCR_ID = ocrModelInfo().id;

function db(home: string): Database.Database {
  return new Database(join(home, 'catalog.db'), { readonly: true });
}

function textRows(home: string): Array<{ hash: string; text: string; lines: string; error_code: string | null }> {
  const d = db(home);
  try {
    return d.prepare('SELECT hash, text, lines, error_code FROM texts WHERE ocr_model_id = ? ORDER BY hash').all(OCR_ID) as Array<{
      hash: string;
      text: string;
      lines: string;
      error_code: string | null;
    }>;
  } finally {
    d.close();
  }
}

describe('the catalog schema', () => {
  it('is version 3, with texts and an FTS5 trigram index in the same database (and the thumbnails index)', () => {
    const home = tempDir('memery-ocr-schema-');
    try {
      const c = Catalog.open(join(home, 'catalog.db'));
      expect(SCHEMA_VERSION).toBe(3);
      expect(c.db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get()).toBe('3');
      expect(Number(String(c.db.prepare('SELECT sqlite_version()').pluck().get()).split('.')[1])).toBeGreaterThanOrEqual(34);
      const sql = c.db.prepare("SELECT sql FROM sqlite_master WHERE name = 'texts_fts'").pluck().get() as string;
      expect(sql).toMatch(/fts5/i);
      expect(sql).toMatch(/trigram/);
      c.close();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!HAS_SHARED)(`texts in the catalog ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  let home: string;
  let dir: string;
  let m: Memery;

  beforeAll(async () => {
    home = tempDir('memery-ocr-home-');
    dir = tempDir('memery-ocr-memes-');
    for (const f of MEMES) copyFileSync(shared('corpus', 'memes', f), join(dir, f));
    await writeSolid(join(dir, 'blank.png'), [200, 30, 30], 160, 120); // no text at all
  });
  afterAll(async () => {
    await m?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('a catalog indexed without OCR, from before OCR existed (schema 1), gets its texts on the next run without re-embedding', async () => {
    m = await Memery.open({ home, modelDir: COLOUR_HF, ocr: false });
    const first = await m.index(dir);
    expect(first).toMatchObject({ found: MEMES.length + 1, new: MEMES.length + 1, texts: 0, textFailed: 0 });
    await m.close();
    // Make it a schema-1 catalog: no text tables at all.
    const w = new Database(join(home, 'catalog.db'));
    w.exec('DROP TRIGGER texts_ai; DROP TRIGGER texts_ad; DROP TRIGGER texts_au; DROP TABLE texts_fts; DROP TABLE texts;');
    w.prepare("UPDATE meta SET value = '1' WHERE key = 'schema'").run();
    w.close();

    m = await Memery.open({ home, modelDir: COLOUR_HF }); // ocr: true by default
    const phases = new Set<string>();
    const s = await m.index(dir, { onProgress: (p) => phases.add(p.phase) });
    expect(s).toMatchObject({ new: 0, reembedded: 0, moved: 0, unchanged: MEMES.length + 1, texts: MEMES.length + 1, textFailed: 0 });
    expect(phases.has('encode')).toBe(false);
    expect(phases.has('ocr')).toBe(true);
    const d = db(home);
    expect(d.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get()).toBe(String(SCHEMA_VERSION));
    d.close();
    const rows = textRows(home);
    expect(rows).toHaveLength(MEMES.length + 1);
    const blank = rows.filter((r) => r.text === '');
    expect(blank).toHaveLength(1); // the solid image: stored empty, so it is not read again
    for (const r of rows.filter((x) => x.text !== '')) {
      const lines = JSON.parse(r.lines) as Array<{ text: string; confidence: number; box: number[] }>;
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.map((l) => l.text).join('\n')).toBe(r.text);
      for (const l of lines) {
        expect(l.box).toHaveLength(8);
        expect(l.confidence).toBeGreaterThan(0);
        expect(l.confidence).toBeLessThanOrEqual(1);
      }
    }
    // Nothing left to read: the next run reads nothing (the empty text included).
    expect(await m.index(dir)).toMatchObject({ new: 0, texts: 0, unchanged: MEMES.length + 1 });
    const r = await m.search('cash money', { n: 3 });
    expect(basename(r[0]!.path)).toBe('Wholesome-Meme-28.jpg');
    expect(r[0]!.text).toMatch(/cash money/i);
    const blankHit = (await m.search('red', { n: 10, mode: 'clip' })).find((x) => basename(x.path) === 'blank.png');
    expect(blankHit!.text).toBeNull();
  });

  it('a moved meme keeps its text without a second OCR; a copy shares it', async () => {
    mkdirSync(join(dir, 'sub'));
    const to = join(dir, 'sub', 'moved-28.jpg');
    renameSync(join(dir, 'Wholesome-Meme-28.jpg'), to);
    copyFileSync(join(dir, 'Wholesome-Meme-36.jpg'), join(dir, 'copy-of-36.jpg'));
    const before = textRows(home);
    const s = await m.index(dir);
    expect(s).toMatchObject({ moved: 2, new: 0, reembedded: 0, removed: 0, texts: 0 });
    expect(textRows(home)).toEqual(before);
    const r = await m.search('that was very cash money of you', { n: 1 });
    expect(r[0]!.path).toBe(to);
    expect(r[0]!.match!.score).toBe(1);
    const ribs = await m.search('dads showing other dads the ribs', { n: 2 });
    expect(ribs.map((x) => basename(x.path)).sort()).toEqual(['Wholesome-Meme-36.jpg', 'copy-of-36.jpg']);
  });

  it('texts whose content no file has any more are deleted with its embeddings', async () => {
    const before = textRows(home).length;
    unlinkSync(join(dir, 'Wholesome-Meme-64.jpg'));
    const s = await m.index(dir);
    expect(s.removed).toBe(1);
    expect(textRows(home)).toHaveLength(before - 1);
    expect(await m.search('confused for a flower', { n: 5, mode: 'text' })).toEqual([]);
    // A copy removed while its twin stays keeps the shared text.
    unlinkSync(join(dir, 'copy-of-36.jpg'));
    await m.index(dir);
    expect(textRows(home)).toHaveLength(before - 1);
  });

  it('texts an earlier memery read with the same OCR model (another read version) are read again and replaced; another model\'s are kept', async () => {
    const current = textRows(home);
    expect(current.length).toBeGreaterThan(0);
    await m.close();
    const { prefix } = ocrModelInfo();
    expect(OCR_ID.startsWith(prefix)).toBe(true);
    const earlier = `${prefix}00000000:r1`;
    const w = new Database(join(home, 'catalog.db'));
    w.prepare('UPDATE texts SET ocr_model_id = ? WHERE ocr_model_id = ?').run(earlier, OCR_ID);
    w.prepare(
      `INSERT INTO texts (hash, ocr_model_id, text, lines, norm, read_at) VALUES (?, 'Another-OCR:1234:r1', 'quokka xylophone', '[]', 'quokkaxylophone', 0)`,
    ).run(current[0]!.hash);
    w.close();
    expect(textRows(home)).toEqual([]);

    m = await Memery.open({ home, modelDir: COLOUR_HF });
    // Until the next index run, search still reads the earlier read version's texts (not the other model's).
    const byWords = async (text: string, mode: 'text' | 'hybrid'): Promise<Array<string | null>> =>
      (await m.search({ text }, { mode, n: 3 })).map((r) => (r.match ? basename(r.path) : null));
    expect(await byWords('grandpa who knows nothing', 'text')).toEqual(['Wholesome-Meme-1.jpg']);
    expect((await byWords('grandpa who knows nothing', 'hybrid'))[0]).toBe('Wholesome-Meme-1.jpg');
    expect(await byWords('quokka xylophone', 'text')).toEqual([]);
    expect((await m.status()).counts.texts).toBeGreaterThan(0);
    const s = await m.index(dir);
    expect(s).toMatchObject({ new: 0, reembedded: 0, texts: current.length, textFailed: 0 });
    expect(await byWords('grandpa who knows nothing', 'text')).toEqual(['Wholesome-Meme-1.jpg']);
    expect(await byWords('quokka xylophone', 'text')).toEqual([]);
    expect(textRows(home).map((r) => [r.hash, r.text])).toEqual(current.map((r) => [r.hash, r.text]));
    const d = db(home);
    try {
      const ids = d.prepare('SELECT ocr_model_id AS id, COUNT(*) AS n FROM texts GROUP BY ocr_model_id ORDER BY id').all();
      expect(ids).toEqual([
        { id: 'Another-OCR:1234:r1', n: 1 },
        { id: OCR_ID, n: current.length },
      ]);
      // The FTS index holds the current texts and the other model's, not the replaced ones.
      expect(d.prepare('SELECT COUNT(*) FROM texts_fts').pluck().get()).toBe(current.length + 1);
    } finally {
      d.close();
    }
  });
});

describe.skipIf(!HAS_SHARED)(`a stopped OCR run resumes ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  it('keeps the committed chunks and reads only the rest next time, without re-embedding', async () => {
    const home = tempDir('memery-ocr-stop-home-');
    const dir = tempDir('memery-ocr-stop-');
    const names = [...MEMES, 'Wholesome-Meme-5.jpg', 'Wholesome-Meme-15.jpg', 'Wholesome-Meme-39.jpg', 'Wholesome-Meme-45.jpg', 'Wholesome-Meme-63.jpg'];
    for (const f of names) copyFileSync(shared('corpus', 'memes', f), join(dir, f));
    const m = await Memery.open({ home, modelDir: COLOUR_HF });
    try {
      const ctrl = new AbortController();
      const err = await m
        .index(dir, {
          signal: ctrl.signal,
          onProgress: (p) => {
            if (p.phase === 'ocr' && p.done > 0) ctrl.abort(); // after the first committed chunk
          },
        })
        .catch((e: unknown) => e);
      expect(isMemeryError(err, 'E_ABORTED')).toBe(true);
      const kept = textRows(home).length;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(names.length);
      const s = await m.index(dir);
      expect(s).toMatchObject({ new: 0, reembedded: 0, unchanged: names.length, texts: names.length - kept });
      expect(textRows(home)).toHaveLength(names.length);
    } finally {
      await m.close();
      rmSync(home, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!HAS_SHARED)(`a text belongs to the bytes it was read from ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  it('a file whose content changed behind an unchanged size and mtime gets no text of other content, and is re-read whole by the next run', async () => {
    const home = tempDir('memery-ocr-swap-home-');
    const dir = tempDir('memery-ocr-swap-');
    try {
      const one = readFileSync(shared('corpus', 'memes', 'Wholesome-Meme-1.jpg'));
      const two = readFileSync(shared('corpus', 'memes', 'Wholesome-Meme-28.jpg'));
      const [big, small] = one.length >= two.length ? [one, two] : [two, one];
      const p = join(dir, 'meme.jpg');
      writeFileSync(p, big);
      const m0 = await Memery.open({ home, modelDir: COLOUR_HF, ocr: false });
      await m0.index(dir);
      await m0.close();
      const oldHash = await contentHash(p);
      // Other content, the same size (a JPEG decoder ignores bytes after the end marker) and mtime:
      // what a rewrite within a coarse file system's mtime tick leaves.
      const before = statSync(p);
      writeFileSync(p, Buffer.concat([small, Buffer.alloc(big.length - small.length)]));
      utimesSync(p, before.atime, before.mtime);
      const after = statSync(p);
      expect(after.size).toBe(before.size);
      if (after.mtimeMs !== before.mtimeMs) {
        // (utimes rounded Node's float mtime: give the catalog's record the file's exact one)
        const c = Catalog.open(join(home, 'catalog.db'));
        c.db.prepare('UPDATE files SET mtime_ms = ? WHERE path = ?').run(after.mtimeMs, p);
        c.close();
      }
      const newHash = await contentHash(p);
      expect(newHash).not.toBe(oldHash);
      const m = await Memery.open({ home, modelDir: COLOUR_HF });
      try {
        // The encoder's pass trusts size and mtime; the OCR pass sees other bytes and stores nothing
        // under the old content's hash.
        expect(await m.index(dir)).toMatchObject({ unchanged: 1, reembedded: 0, texts: 0 });
        expect(textRows(home)).toEqual([]);
        // ... and marked the record changed: the next run encodes the new content and reads its text.
        expect(await m.index(dir)).toMatchObject({ unchanged: 0, reembedded: 1, texts: 1 });
        const rows = textRows(home);
        expect(rows.map((r) => r.hash)).toEqual([newHash]);
        expect(rows[0]!.text.length).toBeGreaterThan(0);
        expect(await m.index(dir)).toMatchObject({ unchanged: 1, reembedded: 0, texts: 0 });
      } finally {
        await m.close();
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OCR failures', () => {
  it('are reported per file; content failures are stored (not read again), I/O failures are retried', async () => {
    const home = tempDir('memery-ocr-fail-home-');
    const dir = tempDir('memery-ocr-fail-');
    try {
      const a = join(dir, 'a.png');
      const b = join(dir, 'b.png');
      const c = join(dir, 'c.png');
      await writeSolid(a, [255, 0, 0]);
      await writeSolid(b, [0, 255, 0]);
      await writeSolid(c, [0, 0, 255]);
      const m = await Memery.open({ home, modelDir: COLOUR_HF, ocr: false });
      await m.index(dir);
      await m.close();
      const catalog = Catalog.open(join(home, 'catalog.db'));
      const texts = new TextStore(catalog.db);
      const hashes = new Map(await Promise.all([a, c].map(async (p) => [p, await contentHash(p)] as const)));
      const fake = (paths: string[]): OcrResult[] =>
        paths.map((p) =>
          p === a
            ? { ok: false, code: 'E_DECODE', message: `Cannot decode ${p}`, path: p, hash: hashes.get(a)! }
            : p === b
              ? { ok: false, code: 'E_IO', message: `Cannot read ${p}`, path: p, hash: '' }
              : { ok: true, hash: hashes.get(c)!, text: 'HELLO there', lines: [{ text: 'HELLO there', confidence: 0.9, box: [0, 0, 10, 0, 10, 5, 0, 5] }], width: 64, height: 48 },
        );
      const engine = { read: async (paths: string[]) => fake(paths) } as unknown as OcrEngine;
      const ctx = { texts, ocrModelId: OCR_ID, engine: async () => engine, decodeThreads: 1, maxFileBytes: 1 << 30 };
      const r1 = await readTexts(ctx, dir);
      expect(r1.texts).toBe(1);
      expect(r1.textFailed).toBe(2);
      expect(r1.textErrors.map((e) => [basename(e.path), e.code]).sort()).toEqual([
        ['a.png', 'E_DECODE'],
        ['b.png', 'E_IO'],
      ]);
      // The decode failure is kept (not read again until the content changes); the I/O one is retried.
      const r2 = await readTexts(ctx, dir);
      expect(r2.textErrors.map((e) => basename(e.path))).toEqual(['b.png']);
      // An engine that cannot load: a warning, the run goes on.
      const warnings: string[] = [];
      const r3 = await readTexts({ ...ctx, engine: () => Promise.reject(new Error('no models')), onWarning: (w) => warnings.push(w) }, dir);
      expect(r3).toEqual({ texts: 0, textFailed: 0, textErrors: [] });
      expect(warnings[0]).toMatch(/no models/);
      catalog.close();
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

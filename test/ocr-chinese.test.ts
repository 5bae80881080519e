// OCR of Chinese, and of Chinese mixed with Latin words: lines rendered with a real CJK font
// (Debian's fonts-wqy-zenhei, through sharp's text input) and read by the native OCR. The PP-OCRv4
// recogniser reads Chinese; the decoder's added spaces (spaceScore) never fall between two CJK
// letters or beside a full-width sign, and do fall between a CJK letter and a Latin word, where the
// image has them. A folder of such lines, indexed, is searched by Chinese words of 2 and 3
// characters (inside a run of CJK letters) and by the Latin word among them. Skips, saying so,
// where the font is not installed (.ci/run installs it).
import { existsSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Memery } from '../ts/index.js';
import { OcrEngine, type OcrResult } from '../ts/native/index.js';
import { tempDir } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';

const FONT_FILE = '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc';
const HAS_FONT = existsSync(FONT_FILE);
const SKIP = `(skipped: no CJK font at ${FONT_FILE}; apt-get install fonts-wqy-zenhei)`;

/** Each line as rendered, and as it must be read. */
const LINES = {
  plain1: '中华人民共和国成立于一九四九年',
  plain2: '人工智能正在改变世界',
  signs: '早上好！你吃饭了吗？',
  commas: '我爱北京天安门，天安门上太阳升',
  mixed1: '这是一个测试 test 文本',
  mixed2: '使用 Python 和 Node.js 开发',
} as const;
type Key = keyof typeof LINES;

async function renderLine(text: string, file: string): Promise<void> {
  const ink = await sharp({ text: { text: `<span foreground="black">${text}</span>`, font: 'WenQuanYi Zen Hei 36', rgba: true, dpi: 72 } })
    .png()
    .toBuffer();
  const { width = 0, height = 0 } = await sharp(ink).metadata();
  const page = await sharp({ create: { width: width + 60, height: height + 60, channels: 3, background: 'white' } })
    .composite([{ input: ink, top: 30, left: 30 }])
    .jpeg({ quality: 95 })
    .toBuffer();
  writeFileSync(file, page);
}

describe.skipIf(!HAS_FONT)(`OCR of Chinese text ${HAS_FONT ? '' : SKIP}`, () => {
  let engine: OcrEngine;
  let dir: string;
  const files = {} as Record<Key, string>;
  const read = async (options: { spaceScore?: number } = {}): Promise<Record<Key, string>> => {
    const keys = Object.keys(LINES) as Key[];
    const r: OcrResult[] = await engine.read(
      keys.map((k) => files[k]),
      options,
    );
    return Object.fromEntries(
      r.map((x, i) => {
        if (!x.ok) throw new Error(`${keys[i]}: ${x.code} ${x.message}`);
        return [keys[i], x.text];
      }),
    ) as Record<Key, string>;
  };

  beforeAll(async () => {
    dir = tempDir('memery-ocr-zh-');
    for (const [k, text] of Object.entries(LINES)) {
      files[k as Key] = join(dir, `${k}.jpg`);
      await renderLine(text, files[k as Key]);
    }
    engine = await OcrEngine.load({ threads: 2 });
  });
  afterAll(() => engine?.close());

  it('reads Chinese lines, full-width signs included, with no space added between CJK letters or beside a sign', async () => {
    const t = await read();
    for (const k of ['plain1', 'plain2', 'signs', 'commas'] as const) expect(t[k], k).toBe(LINES[k]);
  });

  it('puts the spaces the image has between Chinese and a Latin word, which the recogniser alone drops', async () => {
    const t = await read();
    expect(t.mixed1).toBe(LINES.mixed1);
    expect(t.mixed2).toBe(LINES.mixed2);
    const bare = await read({ spaceScore: 0 });
    expect(bare.mixed1).toBe('这是一个测试test文本');
    expect(bare.mixed2).toBe('使用Python和Node.js开发');
    expect(bare.plain1).toBe(LINES.plain1);
  });

  it('finds a line by a Chinese word of 2 or 3 characters inside it, and by the Latin word among them', async () => {
    const m = await Memery.open({ home: tempDir('memery-zh-home-'), modelDir: COLOUR_HF });
    try {
      await m.index(dir);
      const first = async (text: string, mode: 'text' | 'hybrid'): Promise<string | undefined> => {
        const r = await m.search({ text }, { mode, n: 3 });
        return r[0]?.match ? basename(r[0].path) : undefined;
      };
      for (const [query, key] of [
        ['北京', 'commas'],
        ['天安门', 'commas'],
        ['智能', 'plain2'],
        ['吃饭', 'signs'],
        ['一九四九年', 'plain1'],
        ['python', 'mixed2'],
        ['测试 文本', 'mixed1'],
      ] as const) {
        expect(await first(query, 'text'), query).toBe(`${key}.jpg`);
        expect(await first(query, 'hybrid'), query).toBe(`${key}.jpg`);
      }
      expect(await first('上海', 'text')).toBeUndefined();
    } finally {
      await m.close();
    }
  });
});

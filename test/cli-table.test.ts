// The CLI's table lines its columns up in terminal columns, not string length: a Chinese text
// snippet (two columns a character) is cut to the same width as a Latin one, and the path column
// starts at the same column on every line.
import { describe, expect, it } from 'vitest';
import { formatTable } from '../ts/cli/format/plain.js';
import { displayWidth } from '../ts/cli/format/width.js';
import type { SearchResult } from '../ts/api/schemas.js';

const result = (path: string, text: string | null, match: SearchResult['match'] = null): SearchResult => ({
  path,
  score: 0.5,
  width: 10,
  height: 10,
  bytes: 1234,
  mtime: 0,
  id: 1,
  text,
  match,
  thumb: null,
});

describe('displayWidth', () => {
  it('counts CJK, full-width signs and emoji as 2 columns, combining marks and joiners as 0', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('天安门')).toBe(6);
    expect(displayWidth('早上好！')).toBe(8);
    expect(displayWidth('한국어')).toBe(6);
    expect(displayWidth('😂')).toBe(2);
    expect(displayWidth('e\u0301')).toBe(1);
    expect(displayWidth('a\u200db')).toBe(2);
    expect(displayWidth('…')).toBe(1);
  });
});

describe('the search table', () => {
  it('cuts a snippet to the same number of columns whatever its script, and lines the paths up', () => {
    const zh = '我爱北京天安门，天安门上太阳升。中华人民共和国成立于一九四九年，人工智能正在改变世界';
    const out = formatTable(
      [
        result('/m/zh.jpg', zh, { score: 1, spans: [{ start: 4, end: 7 }] }),
        result('/m/en.jpg', 'my grandpa who knows nothing about computers loves me very much'),
        result('/m/none.jpg', null),
      ],
      { query: { text: 'x' }, folder: null, n: 3, home: '/tmp', color: false },
    );
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    const pathColumn = lines.map((l) => {
      const at = l.indexOf('/m/') >= 0 ? l.indexOf('/m/') : l.indexOf('path');
      return displayWidth(l.slice(0, at));
    });
    expect(new Set(pathColumn).size).toBe(1);
    const zhLine = lines[1]!;
    expect(zhLine).toContain('天安门');
    // The snippet of the Chinese text is no wider than the English one's column allows.
    const snippet = zhLine.slice(zhLine.indexOf('我') >= 0 ? zhLine.indexOf('我') : zhLine.indexOf('\u2026'), zhLine.indexOf('/m/')).trimEnd();
    expect(displayWidth(snippet)).toBeLessThanOrEqual(32);
    expect(displayWidth(snippet)).toBeGreaterThanOrEqual(28);
  });
});

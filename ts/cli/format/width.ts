/**
 * Terminal columns a string takes, for lining up table columns: East Asian wide and full-width
 * characters and emoji take 2, combining marks and invisible format characters (zero-width joiner,
 * variation selectors) 0, everything else 1. A short table of ranges in the manner of wcwidth, not
 * the whole of Unicode's East Asian Width property.
 */
const ZERO = /^[\p{Mn}\p{Me}\p{Cf}]$/u;

const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], // Hangul Jamo initials
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // kana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe30, 0xfe4f], // CJK compatibility forms
  [0xff00, 0xff60], // full-width forms
  [0xffe0, 0xffe6], // full-width signs
  [0x1f300, 0x1f64f], // pictographs, emoticons
  [0x1f900, 0x1f9ff], // supplemental symbols and pictographs
  [0x20000, 0x3fffd], // CJK extensions B on
];

function columnsOf(cp: number, ch: string): number {
  if (cp < 0x300) return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) ? 0 : 1;
  if (ZERO.test(ch)) return 0;
  for (const [a, b] of WIDE) {
    if (cp < a) return 1;
    if (cp <= b) return 2;
  }
  return 1;
}

export function displayWidth(s: string): number {
  let n = 0;
  for (const ch of s) n += columnsOf(ch.codePointAt(0)!, ch);
  return n;
}

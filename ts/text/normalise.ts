/**
 * Text normalisation for matching the words in images (OCR) against a typed query: NFKD, combining
 * marks stripped, lower case, and only letters and digits kept (any script: CJK stays). OCR drops
 * and adds spaces at will ("mommakingfoodforher"), so whitespace and punctuation carry nothing.
 */

/** A normalised text: its characters (code points) and, for each, where it came from in the original. */
export interface Normalised {
  /** The normalised code points (each a string of 1 or 2 UTF-16 units). */
  chars: string[];
  /** chars joined. */
  text: string;
  /** starts[i]/ends[i]: the UTF-16 offsets in the original of the code point chars[i] came from. */
  starts: number[];
  ends: number[];
}

const MARK = /\p{M}/gu;
const KEEP = /^[\p{L}\p{N}]$/u;

function fold(cp: string): string {
  // Lower-casing can bring marks back (İ -> i̇), so strip them on both sides of it.
  return cp.normalize('NFKD').replace(MARK, '').toLowerCase().normalize('NFKD').replace(MARK, '');
}

/** Normalises `s`, keeping the map back to its offsets (for highlighting a match in the original). */
export function normalise(s: string): Normalised {
  const chars: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const cp of s) {
    const end = at + cp.length;
    // ASCII fast path: most OCR text is.
    const c = cp.charCodeAt(0);
    if (cp.length === 1 && c < 0x80) {
      if ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a)) {
        chars.push(cp);
        starts.push(at);
        ends.push(end);
      } else if (c >= 0x41 && c <= 0x5a) {
        chars.push(String.fromCharCode(c + 32));
        starts.push(at);
        ends.push(end);
      }
    } else {
      for (const f of fold(cp)) {
        if (KEEP.test(f)) {
          chars.push(f);
          starts.push(at);
          ends.push(end);
        }
      }
    }
    at = end;
  }
  return { chars, text: chars.join(''), starts, ends };
}

/** The normalised form only. */
export function normaliseText(s: string): string {
  return normalise(s).text;
}

/** The query's words, each normalised (words that normalise to nothing are dropped). */
export function queryWords(query: string): string[][] {
  return query
    .split(/\s+/u)
    .map((w) => normalise(w).chars)
    .filter((w) => w.length > 0);
}

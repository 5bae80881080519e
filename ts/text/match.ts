/**
 * Matching a typed query against the text read from an image (OCR), tolerant of what OCR and
 * memory get wrong: whitespace, case, accents and punctuation are ignored (both sides are
 * normalised, see normalise.ts), and each query word of 4 or more characters may be one edit
 * (a wrong, missing or extra character) away from the text; shorter words must match exactly.
 *
 * score: the share of the query's characters in words found (0..1); 1 when every word, or the
 * whole query run together, is found. tier: 3 the whole query run together is found (a phrase),
 * 2 every word is found, 1 partial (score >= 0.5 with a word of 4+ characters found), 0 no match.
 * A word of 4+ characters (or the phrase) must be among what is found: short words alone say
 * little. Queries shorter than 4 characters in all must match whole words of the original text
 * ("red" does not match "scared").
 *
 * Chinese and Japanese are written without spaces between words, Korean attaches its particles to
 * the word ("학교에"), and a word in any of them is often two characters. So for these letters (CJK):
 * a query with one needs only 2 characters, a word of 2+ characters with one counts as a long
 * word, and a run of them has no word boundaries inside it ("天安门" is found in "我爱北京天安门";
 * "cat" still not in "concatenate").
 */
import { normalise, queryWords, type Normalised } from './normalise.js';

export interface TextSpan {
  /** UTF-16 offsets into the original text, end exclusive. */
  start: number;
  end: number;
}

export interface TextMatch {
  score: number;
  spans: TextSpan[];
  tier: 0 | 1 | 2 | 3;
}

/** Query characters (normalised) taken into account; the rest of a very long query is ignored. */
export const MAX_QUERY_CHARS = 256;
/** Fewer normalised characters than this: no text matching (a trigram is the shortest retrieval). */
export const MIN_QUERY_CHARS = 3;
/** Fewer normalised characters than this in a query with a CJK letter: no text matching. */
export const MIN_CJK_QUERY_CHARS = 2;
/** Han, kana and Hangul letters: runs of them have no word boundaries to match against. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const hasCjk = (cs: readonly string[]): boolean => cs.some((c) => CJK.test(c));
/** Words this long or longer may be one edit away. */
export const FUZZY_MIN_LENGTH = 4;
/** Most trigrams put into one FTS query. */
const MAX_TRIGRAMS = 96;

export interface TextQueryPlan {
  words: string[][];
  /** The words run together. */
  concat: string[];
  total: number;
  /** Distinct trigrams (letters and digits only) of the words and of the words run together. */
  trigrams: string[];
  /**
   * LIKE patterns over the normalised text that find a single 4-5 character word with one edit
   * in its middle (which breaks all its trigrams), and each CJK word too short for a trigram.
   */
  likePatterns: string[];
}

/** Plans the text side of a query; undefined when it has too few letters and digits to match. */
export function planTextQuery(query: string): TextQueryPlan | undefined {
  const words: string[][] = [];
  let total = 0;
  for (const w of queryWords(query)) {
    if (total >= MAX_QUERY_CHARS) break;
    const cut = w.slice(0, MAX_QUERY_CHARS - total);
    words.push(cut);
    total += cut.length;
  }
  const concat = words.flat();
  if (total < (hasCjk(concat) ? MIN_CJK_QUERY_CHARS : MIN_QUERY_CHARS)) return undefined;
  const seen = new Set<string>();
  const add = (cs: string[]): void => {
    for (let i = 0; i + 3 <= cs.length; i++) seen.add(cs.slice(i, i + 3).join(''));
  };
  for (const w of words) add(w);
  add(concat);
  let trigrams = [...seen];
  if (trigrams.length > MAX_TRIGRAMS) {
    const step = trigrams.length / MAX_TRIGRAMS;
    trigrams = Array.from({ length: MAX_TRIGRAMS }, (_, i) => trigrams[Math.floor(i * step)]!);
  }
  const likePatterns: string[] = [];
  if (words.length === 1 && words[0]!.length >= FUZZY_MIN_LENGTH && words[0]!.length <= 5) {
    const w = words[0]!;
    const pats = new Set<string>();
    for (let p = 1; p < w.length - 1; p++) {
      pats.add(`%${w.slice(0, p).join('')}_${w.slice(p + 1).join('')}%`); // wrong character
      pats.add(`%${w.slice(0, p).join('')}${w.slice(p + 1).join('')}%`); // missing character
      pats.add(`%${w.slice(0, p).join('')}_${w.slice(p).join('')}%`); // extra character
    }
    likePatterns.push(...pats);
  }
  // (normalised text holds only letters and digits: no LIKE wildcard can come from the query)
  for (const w of words) if (w.length < 3 && hasCjk(w)) likePatterns.push(`%${w.join('')}%`);
  return { words, concat, total, trigrams, likePatterns };
}

/**
 * An FTS5 MATCH expression from the plan's trigrams, each a quoted string: user text is never
 * FTS syntax (the trigrams hold only letters and digits; quotes are doubled all the same).
 */
export function ftsExpression(plan: TextQueryPlan): string | undefined {
  if (!plan.trigrams.length) return undefined;
  return plan.trigrams.map((t) => `"${t.replace(/"/g, '""')}"`).join(' OR ');
}

interface Found {
  /** Normalised offsets, end exclusive. */
  start: number;
  end: number;
  distance: number;
}

/** The first exact occurrence of `p` in `t` (arrays of code points). */
function exact(p: string[], t: string[], from = 0): Found | undefined {
  const m = p.length;
  outer: for (let j = from; j + m <= t.length; j++) {
    for (let i = 0; i < m; i++) if (t[j + i] !== p[i]) continue outer;
    return { start: j, end: j + m, distance: 0 };
  }
  return undefined;
}

/**
 * Sellers' algorithm: the substring of `t` closest to `p` in edit distance, if within `k`. Ties go
 * to the earliest, extended while as close and from the same start.
 */
function approximate(p: string[], t: string[], k: number): Found | undefined {
  const m = p.length;
  let prev = new Array<number>(m + 1);
  let prevStart = new Array<number>(m + 1);
  let cur = new Array<number>(m + 1);
  let curStart = new Array<number>(m + 1);
  for (let i = 0; i <= m; i++) {
    prev[i] = i;
    prevStart[i] = 0;
  }
  let best: Found | undefined;
  for (let j = 1; j <= t.length; j++) {
    cur[0] = 0;
    curStart[0] = j;
    const tc = t[j - 1];
    for (let i = 1; i <= m; i++) {
      let d = prev[i - 1]! + (p[i - 1] === tc ? 0 : 1);
      let s = prevStart[i - 1]!;
      if (prev[i]! + 1 < d) {
        d = prev[i]! + 1;
        s = prevStart[i]!;
      }
      if (cur[i - 1]! + 1 < d) {
        d = cur[i - 1]! + 1;
        s = curStart[i - 1]!;
      }
      cur[i] = d;
      curStart[i] = s;
    }
    const d = cur[m]!;
    if (d <= k && (!best || d < best.distance)) {
      best = { start: curStart[m]!, end: j, distance: d };
      if (d === 0) return best;
    } else if (best && d === best.distance && curStart[m] === best.start && j === best.end + 1) {
      best.end = j; // as good and one longer ("cashmony" covers all of "cashmoney")
    }
    [prev, cur] = [cur, prev];
    [prevStart, curStart] = [curStart, prevStart];
  }
  return best;
}

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;

/**
 * Whether the span of the original text starts and ends a word: no letter or digit right before
 * or after it, unless that one or the span's own end is a CJK letter (no word boundaries there).
 */
function atWordBoundaries(original: string, span: TextSpan): boolean {
  const before = [...original.slice(Math.max(0, span.start - 2), span.start)].pop();
  const after = [...original.slice(span.end, span.end + 2)][0];
  const first = [...original.slice(span.start, span.start + 2)][0]!;
  const last = [...original.slice(Math.max(span.start, span.end - 2), span.end)].pop()!;
  const joined = (outside: string | undefined, inside: string): boolean =>
    outside !== undefined && WORD_CHAR.test(outside) && !CJK.test(outside) && !CJK.test(inside);
  return !joined(before, first) && !joined(after, last);
}

function find(p: string[], t: string[]): Found | undefined {
  return exact(p, t) ?? (p.length >= FUZZY_MIN_LENGTH ? approximate(p, t, 1) : undefined);
}

function toSpan(n: Normalised, f: Found): TextSpan {
  return { start: n.starts[f.start]!, end: n.ends[f.end - 1]! };
}

function mergeSpans(spans: TextSpan[]): TextSpan[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: TextSpan[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

/** Matches a planned query against an image's original text (normalised here, offsets into it). */
export function matchText(plan: TextQueryPlan, original: string, normalised: Normalised = normalise(original)): TextMatch {
  const t = normalised.chars;
  const none: TextMatch = { score: 0, spans: [], tier: 0 };
  if (!t.length) return none;
  if (plan.total < FUZZY_MIN_LENGTH) {
    // A short query: exact, and whole words of the original.
    for (let from = 0; ; ) {
      const f = exact(plan.concat, t, from);
      if (!f) return none;
      const span = toSpan(normalised, f);
      if (atWordBoundaries(original, span)) return { score: 1, spans: [span], tier: 3 };
      from = f.start + 1;
    }
  }
  const phrase = find(plan.concat, t);
  if (phrase) return { score: 1, spans: [toSpan(normalised, phrase)], tier: 3 };
  let matched = 0;
  let longFound = false;
  const spans: TextSpan[] = [];
  for (const w of plan.words) {
    const f = find(w, t);
    if (!f) continue;
    matched += w.length;
    if (w.length >= FUZZY_MIN_LENGTH || (w.length >= MIN_CJK_QUERY_CHARS && hasCjk(w))) longFound = true;
    spans.push(toSpan(normalised, f));
  }
  const score = Math.round((matched / plan.total) * 1e4) / 1e4;
  // Short words alone say little ("the" and "cat" are in "thecommunicate"): a word of 4+ characters
  // (or a CJK word), or the whole query run together, must be found.
  const tier = !longFound ? 0 : matched === plan.total ? 2 : score >= 0.5 ? 1 : 0;
  return { score, spans: mergeSpans(spans), tier };
}

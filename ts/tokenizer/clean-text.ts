/**
 * CLIP text cleaning, as in OpenAI CLIP's `simple_tokenizer.py` (with NFC normalisation in place
 * of `ftfy.fix_text`, as the reference tokenization does):
 *
 *   basic_clean:      NFC, html.unescape(html.unescape(text)), str.strip()
 *   whitespace_clean: regex.sub(r'\s+', ' ', text), str.strip()
 *   then:             str.lower()
 */
import { htmlUnescape } from './html-unescape.js';

/**
 * The characters the Python `regex` module's `\s` matches (the Unicode White_Space property).
 * JavaScript's `\s` differs (it adds U+FEFF and lacks U+0085), so the class is spelled out.
 */
export const WHITE_SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const WHITE_SPACE_RUN = new RegExp(`[${WHITE_SPACE}]+`, 'gu');

/** Python's `str.isspace()` (what `str.strip()` removes): White_Space plus U+001C..U+001F. */
function isPySpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f);
  if (c < 0x85) return false;
  return (
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** Python's `str.strip()` with no argument (all these characters are in the BMP). */
export function pyStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPySpace(text.charCodeAt(start))) start++;
  while (end > start && isPySpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** `basic_clean`: NFC normalisation, HTML-unescape twice, strip. */
export function basicClean(text: string): string {
  return pyStrip(htmlUnescape(htmlUnescape(text.normalize('NFC'))));
}

/** `whitespace_clean`: collapse whitespace runs to one space, strip. */
export function whitespaceClean(text: string): string {
  return pyStrip(text.replace(WHITE_SPACE_RUN, ' '));
}

/** The full CLIP cleaning applied before pre-tokenisation (ends with lower-casing). */
export function cleanText(text: string): string {
  return whitespaceClean(basicClean(text)).toLowerCase();
}

/** The light formats: table (a TTY's default), paths (a pipe's default), NUL-separated and JSON. */
import { textSnippet as snippetParts } from '@memery/client/protocol';
import { formatBytes } from '../../models/progress.js';
import { paint } from '../context.js';
import type { SearchResult } from '../../api/schemas.js';
import type { FormatContext, Formatter } from './types.js';
import { displayWidth } from './width.js';

/** One absolute path per line. */
export const formatPaths: Formatter = (results) => results.map((r) => `${r.path}\n`).join('');

/** Each path followed by a NUL byte (for `xargs -0`). */
export const formatNul: Formatter = (results) => results.map((r) => `${r.path}\0`).join('');

/** `{ query, folder, n, threshold?, results: [{ path, score, width, height, bytes, mtime, id, text, match, thumb }] }`. */
export const formatJson: Formatter = (results, ctx: FormatContext) => {
  const out: Record<string, unknown> = { query: ctx.query, folder: ctx.folder, n: ctx.n };
  if (ctx.threshold !== undefined) out.threshold = ctx.threshold;
  out.results = results.map((r) => ({
    path: r.path,
    score: r.score,
    width: r.width,
    height: r.height,
    bytes: r.bytes,
    mtime: r.mtime,
    id: r.id,
    text: r.text ?? null,
    match: r.match ?? null,
    thumb: r.thumb ?? null,
  }));
  return `${JSON.stringify(out, null, 2)}\n`;
};

const SNIPPET_WIDTH = 32;

/**
 * A one-line piece of an image's text, at most `width` terminal columns (a Chinese character takes
 * two): around the first matched span (the matched parts marked when colour is on), else its
 * start. Line breaks read as " / ". The piece is @memery/client's textSnippet, the one every client
 * shows; `length` is its width in columns.
 */
export function textSnippet(text: string | null | undefined, match: SearchResult['match'], color: boolean, width = SNIPPET_WIDTH): { shown: string; length: number } {
  let chars = width;
  let parts = snippetParts(text, match, { width: chars, lead: 4, fill: true });
  let columns = parts.reduce((n, p) => n + displayWidth(p.text), 0);
  // Wide characters: fewer of them, until the piece fits (each takes at most 2 columns).
  while (columns > width && chars > 1) {
    chars = Math.max(1, chars - Math.ceil((columns - width) / 2));
    parts = snippetParts(text, match, { width: chars, lead: 4, fill: true });
    columns = parts.reduce((n, p) => n + displayWidth(p.text), 0);
  }
  return { shown: parts.map((p) => (p.hit ? paint(color, '1;33', p.text) : p.text)).join(''), length: columns };
}

/**
 * rank, score, size, path; a line on stderr-free stdout even when nothing matched. When some
 * result has text (OCR), a text column before the path shows a snippet of it.
 */
export const formatTable: Formatter = (results, ctx) => {
  if (results.length === 0) return '';
  const rows = results.map((r, i) => [String(i + 1), r.score.toFixed(4), formatBytes(r.bytes), r.path]);
  const withText = results.some((r) => r.text);
  const snippets = results.map((r) => textSnippet(r.text, r.match, ctx.color));
  const head = ['#', 'score', 'size', 'path'];
  const w = [0, 1, 2].map((c) => Math.max(head[c]!.length, ...rows.map((r) => r[c]!.length)));
  const tw = Math.max(4, ...snippets.map((s) => s.length));
  const line = (cells: string[], i?: number) =>
    [
      cells[0]!.padStart(w[0]!),
      cells[1]!.padStart(w[1]!),
      cells[2]!.padStart(w[2]!),
      ...(withText ? [i === undefined ? 'text'.padEnd(tw) : snippets[i]!.shown + ' '.repeat(tw - snippets[i]!.length)] : []),
      cells[3]!,
    ].join('  ');
  return [paint(ctx.color, '1', line(head)), ...rows.map((r, i) => line(r, i))].join('\n') + '\n';
};

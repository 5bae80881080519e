/** The light formats: table (a TTY's default), paths (a pipe's default), NUL-separated and JSON. */
import { formatBytes } from '../../models/progress.js';
import { paint } from '../context.js';
import type { FormatContext, Formatter } from './types.js';

/** One absolute path per line. */
export const formatPaths: Formatter = (results) => results.map((r) => `${r.path}\n`).join('');

/** Each path followed by a NUL byte (for `xargs -0`). */
export const formatNul: Formatter = (results) => results.map((r) => `${r.path}\0`).join('');

/** `{ query, folder, n, threshold?, results: [{ path, score, width, height, bytes, mtime, id }] }`. */
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
  }));
  return `${JSON.stringify(out, null, 2)}\n`;
};

/** rank, score, size, path; a line on stderr-free stdout even when nothing matched. */
export const formatTable: Formatter = (results, ctx) => {
  if (results.length === 0) return '';
  const rows = results.map((r, i) => [String(i + 1), r.score.toFixed(4), formatBytes(r.bytes), r.path]);
  const head = ['#', 'score', 'size', 'path'];
  const w = [0, 1, 2].map((c) => Math.max(head[c]!.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    [cells[0]!.padStart(w[0]!), cells[1]!.padStart(w[1]!), cells[2]!.padStart(w[2]!), cells[3]!].join('  ');
  return [paint(ctx.color, '1', line(head)), ...rows.map((r) => line(r))].join('\n') + '\n';
};

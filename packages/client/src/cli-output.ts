/**
 * Reading the `memery` CLI's machine output, for launchers that run it when no server answers:
 * errors as one JSON line on stderr (the server's error body), `index --progress json` lines, and
 * the results of one `search --json` run per folder merged into one list.
 */
import { isErrorCode, PROGRESS_LINE_TYPES, type ErrorCode } from './protocol.js';
import type { ErrorBody, IndexProgress, IndexSummary, ProgressLine } from './schemas.js';

/**
 * The error the CLI printed as JSON on stderr (its last `{"error":{…}}` line); without one (the
 * process died before it could say), the last line as it is, without a code.
 */
export function cliError(stderr: string): { code?: ErrorCode; message: string; hint?: string } {
  const lines = String(stderr)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const line of [...lines].reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const e = (JSON.parse(line) as Partial<ErrorBody>).error;
      if (e && typeof e.message === 'string') {
        return { ...(isErrorCode(e.code) ? { code: e.code } : {}), message: e.message, ...(typeof e.hint === 'string' ? { hint: e.hint } : {}) };
      }
    } catch {
      /* not a JSON line */
    }
  }
  return { message: lines[lines.length - 1] ?? 'memery failed' };
}

/** One line of `memery index --progress json` read: a progress step, a folder's summary, or nothing. */
export function readProgressLine(line: string): { progress: IndexProgress & { folder: string } } | { summary: IndexSummary } | undefined {
  let v: ProgressLine;
  try {
    v = JSON.parse(line) as ProgressLine;
  } catch {
    return undefined;
  }
  if (v?.type === PROGRESS_LINE_TYPES.progress) return { progress: { folder: v.folder, phase: v.phase, done: v.done, total: v.total } };
  if (v?.type === PROGRESS_LINE_TYPES.summary) {
    const { type: _type, ...summary } = v;
    return { summary };
  }
  return undefined;
}

/** Results of several runs (one per folder), best score first, each path once, at most `n`. */
export function mergeResults<T extends { path: string; score: number }>(lists: T[][], n: number): T[] {
  const seen = new Set<string>();
  return lists
    .flat()
    .sort((a, b) => (Number.isNaN(b.score) ? -1 : Number.isNaN(a.score) ? 1 : b.score - a.score))
    .filter((r) => (seen.has(r.path) ? false : (seen.add(r.path), true)))
    .slice(0, n);
}

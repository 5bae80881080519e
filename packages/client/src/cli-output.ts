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

/**
 * Results of several runs (one per folder) as one list of at most `n`, each path once. Each run's
 * own order is kept (memery's hybrid ranking puts images whose words match first, whatever their
 * score); the runs are interleaved by what each one's next result is worth: a words match (by its
 * share of the query) before none, then the higher score (NaN last).
 */
export function mergeResults<T extends { path: string; score: number; match?: { score: number } | null }>(lists: T[][], n: number): T[] {
  const worth = (r: T): [number, number] => [r.match ? 1 + r.match.score : 0, Number.isNaN(r.score) ? -Infinity : r.score];
  const better = (a: T, b: T): boolean => {
    const [wa, sa] = worth(a);
    const [wb, sb] = worth(b);
    return wa !== wb ? wa > wb : sa > sb;
  };
  const at = lists.map(() => 0);
  const seen = new Set<string>();
  const out: T[] = [];
  while (out.length < n) {
    let pick = -1;
    for (let i = 0; i < lists.length; i++) {
      const r = lists[i]![at[i]!];
      if (r !== undefined && (pick < 0 || better(r, lists[pick]![at[pick]!]!))) pick = i;
    }
    if (pick < 0) break;
    const r = lists[pick]![at[pick]!++]!;
    if (!seen.has(r.path)) {
      seen.add(r.path);
      out.push(r);
    }
  }
  return out;
}

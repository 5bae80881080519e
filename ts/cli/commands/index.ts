/**
 * `memery index FOLDER... [--json] [--progress text|json]`: brings the catalog up to date with each
 * folder. `--progress json` is for launchers: one JSON object a line on stderr (the protocol's
 * ProgressLine: progress, then a summary per folder) instead of the bar and the summary text.
 */
import { PROGRESS_LINE_TYPES, progressThrottle } from '@memery/client/protocol';
import type { ProgressLine } from '@memery/client/schemas';
import { openMemery, useColor, withInterrupt, writeOut, type GlobalOptions } from '../context.js';
import { failureLine, summaryLine } from '../format/summary.js';
import { IndexProgressView } from '../progress.js';
import type { IndexProgress, IndexSummary } from '../../api/schemas.js';

export interface IndexCommandOptions {
  json?: boolean;
  progress?: 'text' | 'json';
  /** false with --no-ocr (commander sets true otherwise: only false overrides the config). */
  ocr?: boolean;
  /** --exclude GLOB (repeatable). */
  exclude?: string[];
}

const jsonLine = (line: ProgressLine) => process.stderr.write(`${JSON.stringify(line)}\n`);

/** How one folder's run is shown: the bar and text lines, or JSON lines. */
function reporter(folder: string, jsonLines: boolean): { update: (p: IndexProgress) => void; done: () => void; finish: (s: IndexSummary) => void } {
  if (jsonLines) {
    const pass = progressThrottle();
    return {
      update: (p) => {
        if (pass(p)) jsonLine({ type: PROGRESS_LINE_TYPES.progress, folder, ...p });
      },
      done: () => {},
      finish: (s) => jsonLine({ type: PROGRESS_LINE_TYPES.summary, ...s }),
    };
  }
  const view = new IndexProgressView({ stream: process.stderr, label: folder, color: useColor(process.stderr) });
  return {
    update: view.update,
    done: () => view.done(),
    finish: (s) => {
      for (const e of [...s.skipped, ...s.errors, ...(s.textErrors ?? [])]) process.stderr.write(`${failureLine(e)}\n`);
      process.stderr.write(`${summaryLine(s)}\n`);
    },
  };
}

export async function runIndex(folders: string[], opts: IndexCommandOptions, g: GlobalOptions): Promise<void> {
  const m = await openMemery(g);
  const summaries: IndexSummary[] = [];
  try {
    for (const folder of folders) {
      const view = reporter(folder, opts.progress === 'json');
      let summary: IndexSummary;
      try {
        summary = await withInterrupt(
          (signal) => m.index(folder, { signal, onProgress: view.update, ...(opts.ocr === false ? { ocr: false } : {}), ...(opts.exclude?.length ? { exclude: opts.exclude } : {}) }),
          () => view.done(),
        );
      } finally {
        view.done();
      }
      view.finish(summary);
      summaries.push(summary);
    }
  } finally {
    await m.close();
  }
  if (opts.json) {
    const out = summaries.length === 1 ? summaries[0] : summaries;
    await writeOut(`${JSON.stringify(out, null, 2)}\n`);
  }
}

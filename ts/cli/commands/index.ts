/** `memery index FOLDER... [--json]`: brings the catalog up to date with each folder. */
import { openMemery, useColor, withInterrupt, writeOut, type GlobalOptions } from '../context.js';
import { failureLine, summaryLine } from '../format/summary.js';
import { IndexProgressView } from '../progress.js';
import type { IndexSummary } from '../../api/schemas.js';

export interface IndexCommandOptions {
  json?: boolean;
}

export async function runIndex(folders: string[], opts: IndexCommandOptions, g: GlobalOptions): Promise<void> {
  const m = await openMemery(g);
  const summaries: IndexSummary[] = [];
  const color = useColor(process.stderr);
  try {
    for (const folder of folders) {
      const view = new IndexProgressView({ stream: process.stderr, label: folder, color });
      let summary: IndexSummary;
      try {
        summary = await withInterrupt((signal) => m.index(folder, { signal, onProgress: view.update }), () => view.done());
      } finally {
        view.done();
      }
      for (const e of [...summary.skipped, ...summary.errors]) process.stderr.write(`${failureLine(e)}\n`);
      process.stderr.write(`${summaryLine(summary)}\n`);
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

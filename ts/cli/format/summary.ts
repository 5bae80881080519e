/** Human lines for an index run: the one-line summary and one `path: reason` line per failed file. */
import type { IndexFileError, IndexSummary } from '../../api/schemas.js';

export function summaryLine(s: IndexSummary): string {
  const parts = [
    `${s.found} found`,
    `${s.new} new`,
    `${s.unchanged} unchanged`,
    `${s.reembedded} re-embedded`,
    `${s.moved} moved`,
    `${s.removed} removed`,
    `${s.failed} failed`,
  ];
  if (s.texts) parts.push(`${s.texts} text${s.texts === 1 ? '' : 's'} read`);
  if (s.textFailed) parts.push(`${s.textFailed} unreadable text${s.textFailed === 1 ? '' : 's'}`);
  if (s.skipped.length) parts.push(`${s.skipped.length} not readable (kept)`);
  return `${s.folder}: ${parts.join(', ')} (${s.seconds.toFixed(1)} s)`;
}

/** "path: reason (code)": the failure's reason, which leaves the path out (an older server's failure: its message). */
export function failureLine(e: IndexFileError): string {
  return `${e.path}: ${e.reason ?? e.message} (${e.code})`;
}

/** True when the run looked at any file again (so its failures are news, not a repeat). */
export function didWork(s: IndexSummary): boolean {
  return s.new + s.reembedded + s.moved + s.removed + (s.texts ?? 0) + (s.textFailed ?? 0) > 0 || s.unchanged < s.found;
}

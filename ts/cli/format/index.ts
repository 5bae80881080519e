/** Search output formats. Every format lists the same paths in the same order. */
import type { SearchResult } from '../../api/schemas.js';
import type { AlfredFormatContext } from './alfred.js';
import type { FormatContext, OutputFormat } from './types.js';

export type { FormatContext, OutputFormat } from './types.js';
export { OUTPUT_FORMATS } from './types.js';

/** `ctx.thumbnail` makes the thumbnails --format alfred lacks (through the search's Memery). */
export async function formatResults(format: OutputFormat, results: SearchResult[], ctx: FormatContext & Pick<AlfredFormatContext, 'thumbnail'>): Promise<string> {
  if (format === 'alfred') {
    const { formatAlfred } = await import('./alfred.js');
    return formatAlfred(results, ctx);
  }
  const plain = await import('./plain.js');
  switch (format) {
    case 'table':
      return plain.formatTable(results, ctx);
    case 'json':
      return plain.formatJson(results, ctx);
    case 'paths':
      return plain.formatPaths(results, ctx);
    case 'nul':
      return plain.formatNul(results, ctx);
  }
}

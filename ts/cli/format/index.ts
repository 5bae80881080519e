/** Search output formats. Every format lists the same paths in the same order. */
import type { SearchResult } from '../../api/schemas.js';
import type { FormatContext, OutputFormat } from './types.js';

export type { FormatContext, OutputFormat } from './types.js';
export { OUTPUT_FORMATS } from './types.js';

export async function formatResults(format: OutputFormat, results: SearchResult[], ctx: FormatContext): Promise<string> {
  if (format === 'alfred') {
    const { formatAlfred } = await import('./alfred.js'); // loads the native addon for thumbnails
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

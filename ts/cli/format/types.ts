import type { SearchQueryObject, SearchResult } from '../../api/schemas.js';

export type OutputFormat = 'table' | 'json' | 'paths' | 'nul' | 'alfred';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'paths', 'nul', 'alfred'];

export interface FormatContext {
  query: SearchQueryObject;
  folder: string | null;
  n: number;
  threshold?: number;
  /** MEMERY_HOME (Alfred thumbnails are cached under it). */
  home: string;
  color: boolean;
  columns?: number;
}

export type Formatter = (results: SearchResult[], ctx: FormatContext) => string | Promise<string>;

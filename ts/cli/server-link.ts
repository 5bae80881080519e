/**
 * The CLI's link to a running memery server (`memery serve`) for the same home: `search` sends the
 * query there and skips loading the model; `status` reports whether one runs. The server client
 * (ts/server/client.ts) is imported lazily: a search without a server pays a file check or two.
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { IndexProgress, IndexSummary, SearchOptions, SearchQuery, SearchResult } from '../api/schemas.js';
import type { GlobalOptions } from './context.js';

export interface ServerLink {
  /** Base URL of the server (e.g. http://127.0.0.1:7627/). */
  url: string;
  pid: number;
  /** The model the server uses. */
  model: { name: string; id: string | null; dir: string | null };
  /** Indexes what changed under `folder` in the server's process (`ocr: false`: read no text in this run). */
  index(folder: string, onProgress?: (p: IndexProgress) => void, opts?: { ocr?: boolean }): Promise<IndexSummary>;
  /** Same contract as Memery.search (mode included). */
  search(query: SearchQuery, options: SearchOptions): Promise<SearchResult[]>;
  /** The catalog's folders, as the server sees them now. */
  folders(): Promise<Array<{ path: string; files: number; failed: number }>>;
  close(): void;
}

/** The server running for `home`, if any. */
export async function findServer(home: string): Promise<ServerLink | undefined> {
  const { findServer: find } = await import('../server/client.js');
  const client = await find(home);
  if (!client) return undefined;
  try {
    const st = await client.status();
    return {
      url: st.server.url,
      pid: st.server.pid,
      model: { name: st.model.name, id: st.model.id, dir: st.model.dir },
      index: (folder, onProgress, opts) => client.index(folder, onProgress, opts?.ocr !== undefined ? { ocr: opts.ocr } : {}),
      search: (query, options) => client.search(query, options),
      folders: async () => (await client.status()).folders,
      close: () => client.close(),
    };
  } catch {
    client.close();
    return undefined;
  }
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/**
 * Whether the server can answer for this command line: it must use the model the options ask for
 * (an explicit --model-dir or --model that differs means: load that model here instead). Provider
 * and thread settings only change speed, not results.
 */
export function serverFits(link: ServerLink, g: GlobalOptions): boolean {
  if (g.modelDir) return link.model.dir !== null && real(link.model.dir) === real(g.modelDir);
  if (g.model) return link.model.name === g.model;
  return true;
}

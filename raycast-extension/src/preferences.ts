/**
 * The extension's preferences, read once per command, and the client built from them. `Preferences`
 * is the type `ray build`/`ray develop` generate from package.json into raycast-env.d.ts.
 */
import { getPreferenceValues } from "@raycast/api";
import { SEARCH_MODES, type SearchModeName } from "@memery/client/launcher";
import { expandHome } from "./locate";
import { MemeryClient } from "./memery-client";

export interface Settings {
  folders: string[];
  n: number;
  threshold: number | undefined;
  mode: SearchModeName;
  client: MemeryClient;
}

/** Splits the folders preference (commas, semicolons or new lines) into absolute paths. */
export function parseFolders(value: string | undefined): string[] {
  if (!value) return [];
  const out = value
    .split(/[,;\n]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => expandHome(s).replace(/\/+$/, "") || "/");
  return [...new Set(out)];
}

export function parseCount(value: string | undefined, fallback = 40): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : fallback;
}

export function parseThreshold(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= -1 && n <= 1 ? n : undefined;
}

/** The Search By preference as a search mode (hybrid when unset or unknown). */
export function parseMode(value: string | undefined): SearchModeName {
  return (SEARCH_MODES as readonly string[]).includes(value ?? "") ? (value as SearchModeName) : "hybrid";
}

let cached: { key: string; client: MemeryClient } | undefined;

/** One client per set of preferences (so a command starts the server at most once). */
export function clientFor(p: Preferences): MemeryClient {
  const options = {
    ...(p.memeryHome ? { home: p.memeryHome } : {}),
    ...(p.memeryPath ? { memeryPath: p.memeryPath } : {}),
    ...(p.nodePath ? { nodePath: p.nodePath } : {}),
    ...(p.modelDir ? { modelDir: p.modelDir } : {}),
    ...(p.model ? { model: p.model } : {}),
    startServer: p.startServer !== false,
    ...(p.watch !== undefined ? { watch: p.watch } : {}),
  };
  const key = JSON.stringify(options);
  if (!cached || cached.key !== key) cached = { key, client: new MemeryClient(options) };
  return cached.client;
}

export function readSettings(): Settings {
  const p = getPreferenceValues<Preferences>();
  return {
    folders: parseFolders(p.folders),
    n: parseCount(p.resultCount),
    threshold: parseThreshold(p.threshold),
    mode: parseMode(p.searchMode),
    client: clientFor(p),
  };
}

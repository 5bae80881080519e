import { existsSync } from 'node:fs';
import { MemeryError } from '../errors.js';
import type { Config } from '../config/schema.js';
import { detectLayout, type ModelLayout } from '../models/layout.js';
import { getModelEntry } from '../models/registry.js';
import { downloadModel, modelDir, readManifest, type DownloadProgressEvent } from '../models/download.js';

export interface ResolveModelOptions {
  /** Download the registry model when it is not installed (default true). */
  download?: boolean;
  onDownloadProgress?: (e: DownloadProgressEvent) => void;
}

/** The model folder to use: `modelDir` if set, else the installed (or downloaded) registry model. */
export async function resolveModel(home: string, config: Config, opts: ResolveModelOptions = {}): Promise<ModelLayout> {
  const variant = config.variant;
  if (config.modelDir) return detectLayout(config.modelDir, { variant });
  const entry = getModelEntry(config.model);
  const dir = modelDir(home, entry.name);
  const manifest = existsSync(dir) ? await readManifest(dir).catch(() => undefined) : undefined;
  if (manifest?.complete) return detectLayout(dir, { variant });
  if (opts.download === false) {
    throw new MemeryError('E_MODEL', `Model ${entry.name} is not installed`, {
      path: dir,
      hint: `Run \`memery models download ${entry.name}\`, or point --model-dir at a local model folder.`,
    });
  }
  await downloadModel(entry, { destDir: dir, endpoint: config.hfEndpoint, onProgress: opts.onDownloadProgress });
  return detectLayout(dir, { variant });
}

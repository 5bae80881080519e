import type { Config } from '../config/schema.js';
import { MemeryError } from '../errors.js';
import { downloadModel, type DownloadProgressEvent } from '../models/download.js';
import { hubCacheDir, isOffline, repoCacheDir } from '../models/hf-cache.js';
import { findInstalled, legacyModelDir } from '../models/installed.js';
import { detectLayout, type ModelLayout } from '../models/layout.js';
import { getModelEntry } from '../models/registry.js';
import { layoutVariantOf } from '../models/variant.js';

export interface ResolveModelOptions {
  /** Download the registry model when it is not installed (default true). */
  download?: boolean;
  onDownloadProgress?: (e: DownloadProgressEvent) => void;
  /** Defaults to process.env: HF_HOME / HF_HUB_CACHE, HF_HUB_OFFLINE, HF_ENDPOINT. */
  env?: Record<string, string | undefined>;
}

/**
 * The model folder to use: `modelDir` if set, else the registry model from the Hugging Face cache
 * (or an earlier memery's folder), else downloaded into the cache. No request when it is installed.
 */
export async function resolveModel(home: string, config: Config, opts: ResolveModelOptions = {}): Promise<ModelLayout> {
  if (config.modelDir) return detectLayout(config.modelDir, { variant: config.variant });
  const entry = getModelEntry(config.model);
  const env = opts.env ?? process.env;
  const variant = layoutVariantOf(entry, config.variant);
  const installed = await findInstalled(home, entry, env);
  if (installed) return detectLayout(installed.dir, { variant });
  if (opts.download === false) {
    const where = repoCacheDir(hubCacheDir(env), entry.repo);
    throw new MemeryError('E_MODEL', `Expected model ${entry.name} in the Hugging Face cache (${where}) but it is not installed`, {
      path: where,
      hint: `Run \`memery models download ${entry.name}\`${isOffline(env) ? ' without HF_HUB_OFFLINE' : ''}, or point --model-dir at a local model folder.`,
    });
  }
  const r = await downloadModel(entry, {
    endpoint: config.hfEndpoint,
    legacyDir: legacyModelDir(home, entry.name),
    env,
    ...(opts.onDownloadProgress ? { onProgress: opts.onDownloadProgress } : {}),
  });
  return detectLayout(r.dir, { variant });
}

/**
 * `memery preprocess FILE -o OUT.png [--model-dir DIR] [--size S]`: writes the SxS RGB crop the model
 * sees, before normalisation (to compare preprocessing with a reference). S comes from the model's
 * preprocessing config; 224 when no model is given or installed.
 */
import { resolve } from 'node:path';
import { MemeryError, type ErrorCode } from '../../errors.js';
import { resolveHome, type GlobalOptions } from '../context.js';

export interface PreprocessCommandOptions {
  output: string;
  size?: number;
}

export const DEFAULT_SIZE = 224;

/** The model's input size: --model-dir (must be a model), else an installed model, else 224. */
async function modelSize(g: GlobalOptions): Promise<{ size: number; source: string }> {
  const home = await resolveHome(g);
  const [{ loadConfig }, { detectLayout }, { resolveModel }] = await Promise.all([
    import('../../config/load.js'),
    import('../../models/layout.js'),
    import('../../api/model-resolver.js'),
  ]);
  const overrides: { model?: string; modelDir?: string } = {};
  if (g.model) overrides.model = g.model;
  if (g.modelDir) overrides.modelDir = resolve(g.modelDir);
  const config = loadConfig(home, overrides);
  if (config.modelDir) {
    const layout = await detectLayout(config.modelDir, { variant: config.variant });
    return { size: layout.preprocess.size, source: layout.dir };
  }
  try {
    const layout = await resolveModel(home, config, { download: false });
    return { size: layout.preprocess.size, source: layout.dir };
  } catch {
    return { size: DEFAULT_SIZE, source: 'default' };
  }
}

export async function runPreprocess(file: string, o: PreprocessCommandOptions, g: GlobalOptions): Promise<void> {
  const input = resolve(file);
  const output = resolve(o.output);
  const { size } = o.size !== undefined ? { size: o.size } : await modelSize(g);
  const { decodeCrops, saveRgb } = await import('../../native/image-ops.js');
  const r = await decodeCrops([input], { size });
  const err = r.errors[0];
  if (err) {
    const code = (['E_NOT_FOUND', 'E_DECODE', 'E_IO', 'E_NOMEM'].includes(err.code) ? err.code : 'E_DECODE') as ErrorCode;
    throw new MemeryError(code, err.message, { path: input });
  }
  await saveRgb(r.data.subarray(0, size * size * 3), size, size, output);
  process.stderr.write(`${output}: ${size}x${size} RGB crop of ${input}\n`);
}
